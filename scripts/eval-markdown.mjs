#!/usr/bin/env node
// Prints a model's measured table (NAME.eval.json) as the markdown docs/RESULTS.md and
// docs/MODEL_CARD.md show (scripts/lib/eval-markdown.mjs), or refreshes the docs' marked blocks.
//
// Usage: node scripts/eval-markdown.mjs models/magnets-emoji-d256.eval.json   print one table
//        node scripts/eval-markdown.mjs --write docs/MODEL_CARD.md ...          re-render the marked blocks
//        node scripts/eval-markdown.mjs --check docs/MODEL_CARD.md ...          exit 1 when one is stale
import fs from 'node:fs';
import { evalMarkdown, refreshEvalBlocks } from './lib/eval-markdown.mjs';

const [mode, ...files] = process.argv.slice(2);
if (!mode) throw new Error('usage: node scripts/eval-markdown.mjs NAME.eval.json | --write DOC... | --check DOC...');
const read = (file) => fs.readFileSync(file, 'utf8');
if (mode === '--write' || mode === '--check') {
  let stale = 0;
  for (const doc of files) {
    const now = read(doc);
    const fresh = refreshEvalBlocks(now, read);
    if (fresh === now) continue;
    stale++;
    if (mode === '--write') fs.writeFileSync(doc, fresh);
    console.error(`${doc}: ${mode === '--write' ? 'tables re-rendered' : 'a table is stale: run node scripts/eval-markdown.mjs --write ' + doc}`);
  }
  process.exitCode = mode === '--check' && stale ? 1 : 0;
} else {
  console.log(evalMarkdown(JSON.parse(read(mode))));
}
