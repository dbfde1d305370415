#!/usr/bin/env node
// The page's CPU engine (the wasm fallback bundle) in node, without a browser: the tokenizer
// decoder's time per image and one MaskGIT-baseline decode of the default model (XL12, no cache,
// 16 images at its own sampling settings, guidance doubling the batch), single-threaded as in a
// page's worker.
//
//   node scripts/cpu-engine-bench.mjs [--pkg www/pkg-fallback] [--model d256]
//
// Profile it with `node --cpu-prof scripts/cpu-engine-bench.mjs`: wasm function names survive.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const pkg = path.resolve(repo, arg('--pkg', 'www/pkg-fallback'));
const registry = JSON.parse(fs.readFileSync(path.join(repo, 'models/models.json'), 'utf8'));
const model = registry.models.find((m) => m.id === arg('--model', 'd256'));
if (!model) throw new Error(`--model: not in models/models.json (${registry.models.map((m) => m.id).join(', ')})`);
if (!fs.existsSync(path.join(pkg, 'magnets.js'))) throw new Error(`${pkg}/magnets.js is missing: run scripts/build-web.sh first`);

const wasm = await import(pathToFileURL(path.join(pkg, 'magnets.js')).href);
await wasm.default({ module_or_path: fs.readFileSync(path.join(pkg, 'magnets_bg.wasm')) });
const decoder = model.tokenizer.replace(/\.safetensors$/, '-decoder.safetensors');
const engine = await wasm.create_engine(fs.readFileSync(path.join(repo, 'models', model.weights)), fs.readFileSync(path.join(repo, 'models', decoder)), 32);
if (!JSON.parse(engine.info()).tokenizer) throw new Error('the engine did not load the tokenizer');

// 3 × 32 images of fixed codes: pixels only, no model.
const codes = Uint32Array.from({ length: 32 * 64 }, (_, i) => (i * 7919) % 512);
let t = performance.now();
for (let r = 0; r < 3; r++) await engine.decode_images(codes, 32);
const perImage = (performance.now() - t) / 96;

const s = { temperature: 1, tau: 4.5, guidance: 0, guidance_schedule: 'constant', ...model.sampling };
const request = { schedule: 'XL12', cache: 'off', classes: Array.from({ length: 16 }, (_, i) => i % 9), seed: 0, ...s };
t = performance.now();
await engine.generate(JSON.stringify(request), () => {});
const decodeMs = performance.now() - t;
console.log(JSON.stringify({ pkg: path.relative(repo, pkg), model: model.id, tokenizer_ms_per_image: Number(perImage.toFixed(1)), xl12_decode_ms: Math.round(decodeMs) }));
