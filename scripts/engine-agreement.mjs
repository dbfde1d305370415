#!/usr/bin/env node
// How often the engines pick different tokens for the same request: the page's CPU engine
// (www/pkg-fallback, burn-flex in WebAssembly, run in node) against the native CLI with the
// command the page's Reproduce box gives (`--engine cpu`, and with --gpu also the WGSL engine,
// `--engine gpu`, e.g. on lavapipe). Their logits differ in the last bits (other summation
// orders, FMA natively, f16 weights on the GPU), so a sample that lands that close to a code
// boundary takes the neighbouring code; this counts how rare that is.
//
//   node scripts/engine-agreement.mjs [--model d256] [--decodes 20] [--schedule S3M3L3XL3] [--gpu]
//
// Needs scripts/build-web.sh (www/) and `cargo build --release` (or MAGNETS_BIN).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateCommand } from '../www/reproduce.js';
import { FALLBACK_SAMPLING } from '../www/models.js';
import { classesFor } from '../www/state.js';
import { repo, runGenerate } from './lib/native-cli.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const id = arg('--model', 'd256');
const decodes = Number(arg('--decodes', '20'));
const schedule = arg('--schedule', 'S3M3L3XL3');
const withGpu = process.argv.includes('--gpu');
const manifest = JSON.parse(fs.readFileSync(path.join(repo, 'www/models/manifest.json'), 'utf8'));
const model = manifest.models.find((m) => m.id === id && m.kind === 'image');
if (!model) throw new Error(`--model ${id}: not an image model of www/models/manifest.json`);
if (!(decodes >= 1 && decodes <= 1000)) throw new Error('--decodes: 1..1000');

const pkg = path.join(repo, 'www/pkg-fallback');
const wasm = await import(pathToFileURL(path.join(pkg, 'magnets.js')).href);
await wasm.default({ module_or_path: fs.readFileSync(path.join(pkg, 'magnets_bg.wasm')) });
const bytes = fs.readFileSync(path.join(repo, model.cli.weights));
const config = JSON.parse(wasm.inspect_weights(bytes));
const engine = await wasm.create_engine(bytes, null, 32);

const against = { cpu: { tokens: 0, differ: 0, decodes: 0 }, ...(withGpu ? { gpu: { tokens: 0, differ: 0, decodes: 0 } } : {}) };
for (let seed = 0; seed < decodes; seed++) {
  const request = {
    ...FALLBACK_SAMPLING, ...model.sampling, classes: classesFor('mix', config, 16), schedule, cache: 'on', seed,
  };
  const page = JSON.parse(await engine.generate(JSON.stringify(request), () => {})).tokens.flat();
  const { command } = generateCommand({ model, request });
  for (const [name, extra] of [['cpu', []], ['gpu', ['--engine', 'gpu']]]) {
    if (!against[name]) continue;
    const other = runGenerate(command, extra).tokens.flat();
    const differ = page.filter((v, i) => v !== other[i]).length;
    against[name].tokens += page.length;
    against[name].differ += differ;
    against[name].decodes += differ > 0 ? 1 : 0;
    process.stderr.write(`seed ${seed}: ${name} ${differ} of ${page.length} tokens differ\n`);
  }
}
console.log(JSON.stringify({ model: id, weights: model.cli.weights, schedule, decodes, page_engine: 'wasm burn-flex (node)', against }));
