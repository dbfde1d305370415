#!/usr/bin/env node
// Writes models/anim/fluent-animated-mit.json: the emoji whose animation Microsoft publishes
// under MIT in microsoft/fluentui-emoji-animated, the licence filter of `magnets data --anim`
// (the @lobehub/fluent-emoji-anim-* packages carry more files than that repo licenses).
//   node scripts/anim-mit-list.mjs GIT_DIR_OF_fluentui-emoji-animated [OUT]
// Reads every assets/<name>/metadata.json at HEAD that has an animated file next to it; keeps
// `unicode` (space-separated codepoints → `-`-joined, as the WebP file names), `group`, `cldr`.
// Skin-tone variants are not listed (they are `unicodeSkintones`, not `unicode`).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const [gitDir, outArg] = process.argv.slice(2);
if (!gitDir) {
  console.error('usage: node scripts/anim-mit-list.mjs GIT_DIR [OUT]');
  process.exit(2);
}
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = outArg ?? path.join(root, 'models/anim/fluent-animated-mit.json');
const git = (...a) => execFileSync('git', ['-C', gitDir, ...a], { encoding: 'utf8', maxBuffer: 1 << 26 });

const commit = git('rev-parse', 'HEAD').trim();
const files = git('ls-tree', '-r', '--name-only', 'HEAD').split('\n');
const animated = new Set(files.filter((f) => /_animated[^/]*\.png$/.test(f)).map((f) => f.split('/')[1]));
const emoji = [];
for (const f of files.filter((f) => /^assets\/[^/]+\/metadata\.json$/.test(f))) {
  const dir = f.split('/')[1];
  if (!animated.has(dir)) continue;
  const m = JSON.parse(git('show', `HEAD:${f}`));
  emoji.push({ unicode: m.unicode.trim().split(/\s+/).join('-').toLowerCase(), group: m.group, cldr: m.cldr });
}
emoji.sort((a, b) => (a.unicode < b.unicode ? -1 : a.unicode > b.unicode ? 1 : 0));
const doc = {
  about:
    'Emoji whose animation Microsoft publishes under the MIT licence (microsoft/fluentui-emoji-animated); ' +
    'the licence filter of `magnets data --anim`. Made by `node scripts/anim-mit-list.mjs GIT_DIR` ' +
    'from a clone of that repository.',
  source: 'https://github.com/microsoft/fluentui-emoji-animated',
  commit,
  licence: 'MIT',
  emoji,
};
fs.mkdirSync(path.dirname(out), { recursive: true });
// One emoji per line, so a diff after a re-run shows what changed.
const head = JSON.stringify({ ...doc, emoji: [] }, null, 1).replace(/\[\]\n}$/, '');
fs.writeFileSync(out, `${head}[\n${emoji.map((e) => '  ' + JSON.stringify(e)).join(',\n')}\n ]\n}\n`);
console.error(`${emoji.length} emoji → ${out}`);
