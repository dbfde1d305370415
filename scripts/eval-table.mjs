#!/usr/bin/env node
// Measures the quality of the page's presets and the schedules RESULTS discusses on the shipped
// model, and writes models/magnets-emoji.eval.json, which the page shows next to a schedule's
// compute ("FID-emoji, measured"). Each row is the JSON of
//   magnets eval --weights W --schedule S --cache C --samples 10000 --seed 0 --json
// (τ 4.5, temperature 1, no guidance: the page's defaults). Rows are cached in data/eval10k/, so
// an interrupted run resumes; about 5 min per row on this project's 2-core machine.
// Usage: node scripts/eval-table.mjs [--bin PATH] [--weights PATH] [--out PATH]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const target = process.env.CARGO_TARGET_DIR || path.join(process.env.HOME, '.cache/magnets-target');
const bin = arg('--bin', path.join(target, 'release/magnets'));
const weights = arg('--weights', 'models/magnets-emoji.safetensors');
const out = arg('--out', weights.replace(/\.safetensors$/, '.eval.json'));
const settings = { samples: 10000, seed: 0, temperature: 1, tau: 4.5, guidance: 0 };
const baseline = { schedule: 'XL12', cache: 'off' };
// The page's presets (cache on, its default; the baseline also without), then the best schedule
// with ≥ 3× less compute (chosen on a selection seed, docs/RESULTS.md) and one below 3×.
const rows = [
  ['XL12', 'off'], ['XL12', 'on'], ['S12', 'on'], ['M12', 'on'], ['L12', 'on'],
  ['S3M3L3XL3', 'on'], ['XL3L3M3S3', 'on'],
  ['M3L4XL5', 'on'], ['L6XL6', 'on'],
];
// The page's "Tuned" preset: the best of those ≥ 3× schedules, picked on the selection seed.
const tuned = {
  schedule: 'M3L4XL5',
  cache: 'on',
  chosen: 'the best of 16 small → large schedules with ≥ 3× less compute, picked on a separate seed (docs/RESULTS.md)',
};
const cacheDir = 'data/eval10k';
fs.mkdirSync(cacheDir, { recursive: true });
const sha256 = createHash('sha256').update(fs.readFileSync(weights)).digest('hex');
const measured = [];
for (const [schedule, cache] of rows) {
  const file = path.join(cacheDir, `${sha256.slice(0, 12)}.${schedule}.${cache}.json`);
  if (!fs.existsSync(file)) {
    console.error(`== magnets eval --schedule ${schedule} --cache ${cache} (${settings.samples} samples)`);
    const json = execFileSync(bin, ['eval', '--weights', weights, '--schedule', schedule, '--cache', cache,
      '--samples', String(settings.samples), '--seed', String(settings.seed), '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    fs.writeFileSync(file, json);
  }
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (r.samples !== settings.samples || r.seed !== settings.seed || r.guidance !== settings.guidance || r.schedule !== schedule || r.cache !== cache) {
    throw new Error(`${file} does not hold the row ${schedule} cache ${cache} with the table's settings`);
  }
  const pick = ({ fid, precision, recall, class_accuracy, gflops_per_image, flops_ratio }) => ({ fid, precision, recall, class_accuracy, gflops_per_image, flops_ratio });
  measured.push({ schedule, cache, ...pick(r) });
}
const table = {
  model: path.basename(weights),
  model_sha256: sha256,
  command: `magnets eval --weights ${weights} --schedule SCHEDULE --cache CACHE --samples ${settings.samples} --seed ${settings.seed} --json`,
  settings,
  baseline,
  tuned,
  rows: measured,
};
fs.writeFileSync(out, JSON.stringify(table, null, 1) + '\n');
console.error(`wrote ${out} (${measured.length} rows)`);
