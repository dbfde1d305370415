#!/usr/bin/env node
// Stages the shipped models for the page (called by scripts/build-web.sh): every model in
// models/models.json whose weights are here goes to www/models/ with what the page needs:
//   NAME.safetensors            the weights (+ NAME.eval.json, its measured FID table, if any)
//   TOK.safetensors             the tokenizer's decoder only (models/TOK-decoder.safetensors:
//                               the page never encodes), + TOK.palette.json (preview colours)
// and writes www/models/manifest.json: {default, models: [{id, name, about, light, weights,
// tokenizer, page_files}], files: {name: {sha256, bytes}}} (page_files: what the page downloads
// for that model, which build-web.sh sizes); the page picks its model from that list
// (www/models.js) and versions every model URL by its hash, so a cache never serves a stale file.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const src = path.join(root, 'models');
const out = path.join(root, 'www/models');
const registry = JSON.parse(fs.readFileSync(path.join(src, 'models.json'), 'utf8'));

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const copy = (from, to) => fs.copyFileSync(path.join(src, from), path.join(out, to));
const have = (f) => fs.existsSync(path.join(src, f));
const stem = (f) => f.replace(/\.safetensors$/, '');

const staged = [];
for (const m of registry.models) {
  if (!have(m.weights)) {
    console.error(`note: models/${m.weights} is not here: the page will not offer the ${m.id} model`);
    continue;
  }
  const files = [m.weights];
  copy(m.weights, m.weights);
  if (have(`${stem(m.weights)}.eval.json`)) { copy(`${stem(m.weights)}.eval.json`, `${stem(m.weights)}.eval.json`); files.push(`${stem(m.weights)}.eval.json`); }
  const decoder = `${stem(m.tokenizer)}-decoder.safetensors`;
  let tokenizer = null;
  if (have(decoder)) {
    copy(decoder, m.tokenizer);
    files.push(m.tokenizer);
    if (have(`${stem(m.tokenizer)}.palette.json`)) { copy(`${stem(m.tokenizer)}.palette.json`, `${stem(m.tokenizer)}.palette.json`); files.push(`${stem(m.tokenizer)}.palette.json`); }
    tokenizer = `models/${m.tokenizer}`;
  } else {
    console.error(`note: models/${decoder} is not here: the ${m.id} model's tokens are shown as colours`);
  }
  staged.push({ id: m.id, name: m.name, about: m.about, light: !!m.light, weights: `models/${m.weights}`, tokenizer, page_files: files.map((f) => `models/${f}`) });
}
if (!staged.length) {
  console.error('error: no model in models/models.json has its weights in models/');
  process.exit(1);
}
const files = {};
for (const name of fs.readdirSync(out).filter((f) => f.endsWith('.safetensors')).sort()) {
  const bytes = fs.readFileSync(path.join(out, name));
  files[name] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
}
const manifest = {
  default: staged.some((m) => m.id === registry.default) ? registry.default : staged[0].id,
  models: staged,
  files,
};
fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
console.error(`staged ${staged.map((m) => m.id).join(', ')} (default ${manifest.default}) into www/models/`);
