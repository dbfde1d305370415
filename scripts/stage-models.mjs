#!/usr/bin/env node
// Stages the shipped models for the page (called by scripts/build-web.sh): every model in
// models/models.json whose weights are here goes to www/models/ with what the page needs:
//   NAME.safetensors            the weights: models/NAME.int8.safetensors when it is there (int8
//                               matrices, half of f16's bytes; `magnets init --from NAME.safetensors
//                               --int8`, kept exact by tests/reference.rs), else NAME.safetensors
//                               (+ NAME.eval.json, its measured FID table, if any)
//   TOK.safetensors             the tokenizer's decoder only (models/TOK-decoder.safetensors:
//                               the page never encodes), + TOK.palette.json (preview colours)
//   NAME.starts.json            a clip model's starts (kind "clip"): the held-out clips' first
//                               frames, names and categories, from CLIP_TOKENS (below)
// and writes www/models/manifest.json: {default, models: [{id, name, about, kind, light, weights,
// tokenizer, sampling, starts, page_files, cli}], files: {name: {sha256, bytes, stored?, source_sha256?}}}
// (page_files: what the page downloads for that model, which build-web.sh sizes; cli: the
// repository files `magnets generate` decodes the same tokens from, {weights, tokens?}; files: every
// staged file; int8 weights say `stored: "int8"` and the sha256 of the f16 file they were made
// from, which their eval table was measured on); the page picks
// its model from that list (www/models.js) and versions every model URL by its hash, so a cache
// never serves a stale file.
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
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

// The clip token file a clip model's starts come from (`magnets tokenize --clips`; the same
// file `magnets generate --start` reads by default).
const CLIP_TOKENS = 'anim/anim_tokens.safetensors';

// A safetensors file's tensors as typed arrays + its metadata (only the dtypes used here).
function readSafetensors(file) {
  const b = fs.readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8'));
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [from, to] = t.data_offsets;
    const bytes = b.subarray(8 + n + from, 8 + n + to);
    const Ty = { U8: Uint8Array, U16: Uint16Array, U32: Uint32Array }[t.dtype];
    if (!Ty) throw new Error(`${file}: ${name} has dtype ${t.dtype}`);
    const copy = new Uint8Array(bytes); // aligned
    tensors[name] = { shape: t.shape, data: new Ty(copy.buffer, 0, copy.length / Ty.BYTES_PER_ELEMENT) };
  }
  return { tensors, metadata: header.__metadata__ || {} };
}

// The page's start list for a clip model: every held-out clip's given frame(s), in the order
// `magnets generate --start K` numbers them (K = index among the held-out clips), with its
// emoji name, category and the real clip's other frames (`future`: shown beside the
// prediction); `tokenizer_sha256` names the staged tokenizer the codes belong to.
function clipStarts(tokenizerFile) {
  const file = path.join(src, CLIP_TOKENS);
  const { tensors, metadata } = readSafetensors(file);
  const meta = JSON.parse(metadata['magnets.tokens']);
  const [clips, tokens] = tensors.codes.shape;
  const frameTokens = meta.grid[0] * meta.grid[1];
  if (tokens !== frameTokens * meta.frames) throw new Error(`${file}: ${tokens} tokens per clip, not ${meta.frames} frames of ${frameTokens}`);
  const starts = [];
  for (let i = 0; i < clips; i++) {
    if (!tensors.split.data[i]) continue;
    starts.push({
      n: starts.length,
      name: meta.names[i],
      label: tensors.labels.data[i],
      codes: Array.from(tensors.codes.data.subarray(i * tokens, i * tokens + frameTokens)),
      future: Array.from(tensors.codes.data.subarray(i * tokens + frameTokens, (i + 1) * tokens)),
    });
  }
  return {
    source: `models/${CLIP_TOKENS}`,
    source_sha256: sha256(fs.readFileSync(file)),
    tokenizer_sha256: tokenizerFile ? sha256(fs.readFileSync(path.join(out, tokenizerFile))) : null,
    codebook: meta.codebook, grid: meta.grid, frames: meta.frames,
    categories: meta.categories,
    starts,
  };
}

const staged = [];
const int8Sources = {}; // staged name → sha256 of the f16 file its int8 copy was made from
for (const m of registry.models) {
  if (!have(m.weights)) {
    console.error(`note: models/${m.weights} is not here: the page will not offer the ${m.id} model`);
    continue;
  }
  const files = [m.weights];
  const int8 = `${stem(m.weights)}.int8.safetensors`;
  // The repository file that decodes exactly as the served one (the page's "Reproduce" command).
  let cliWeights = `models/${m.weights}`;
  if (have(int8)) {
    copy(int8, m.weights);
    cliWeights = `models/${int8}`;
    int8Sources[m.weights] = sha256(fs.readFileSync(path.join(src, m.weights)));
  } else {
    copy(m.weights, m.weights);
  }
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
  const kind = m.kind || 'image';
  let starts = null;
  if (kind === 'clip') {
    if (!have(CLIP_TOKENS)) {
      console.error(`note: models/${CLIP_TOKENS} is not here: the page will not offer the ${m.id} model (no starts)`);
      continue;
    }
    const name = `${stem(m.weights)}.starts.json`;
    fs.writeFileSync(path.join(out, name), JSON.stringify(clipStarts(tokenizer && m.tokenizer)) + '\n');
    files.push(name);
    starts = `models/${name}`;
  }
  staged.push({
    id: m.id, name: m.name, about: m.about, kind, light: !!m.light, sampling: m.sampling || null, weights: `models/${m.weights}`, tokenizer, starts,
    page_files: files.map((f) => `models/${f}`),
    cli: { weights: cliWeights, ...(kind === 'clip' ? { tokens: `models/${CLIP_TOKENS}` } : {}) },
  });
}
if (!staged.length) {
  console.error('error: no model in models/models.json has its weights in models/');
  process.exit(1);
}
const files = {};
for (const name of fs.readdirSync(out).sort()) {
  const bytes = fs.readFileSync(path.join(out, name));
  files[name] = { sha256: sha256(bytes), bytes: bytes.length };
  if (int8Sources[name]) Object.assign(files[name], { stored: 'int8', source_sha256: int8Sources[name] });
}
// The default must make images (the page opens on it); a clip model is chosen from the menu.
const images = staged.filter((m) => m.kind === 'image');
const manifest = {
  default: images.some((m) => m.id === registry.default) ? registry.default : (images[0] || staged[0]).id,
  models: staged,
  files,
};
fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
console.error(`staged ${staged.map((m) => m.id).join(', ')} (default ${manifest.default}) into www/models/`);
