#!/usr/bin/env node
// Measures a shipped model's quality per schedule and writes NAME.eval.json next to its weights,
// which the page shows next to a schedule's compute ("FID-emoji, measured") and plots.
//
//  1. Selection (seed 1000, 2,000 samples): every small → large schedule in CANDIDATES; of those
//     with ≥ 3× less compute than the baseline the best FID is the page's "Tuned" preset, of those
//     with ≥ 4× the "Tuned 4×" one (`tuned_4x`).
//  2. Test (seed 0, 10,000 samples unless --samples): the page's presets, the tuned schedules and a few more; each
//     row is the JSON of  magnets eval --weights W --schedule S --cache C --samples 10000 --seed 0 --json
//     with the model's sampling settings (models/models.json `sampling`: the CLI's and the page's
//     defaults for it), passed explicitly and checked in every row.
// Every row is cached in data/eval10k/ (keyed by the weights' and the instrument's hashes), so an
// interrupted run resumes. The tokenizer is the one shipped with the weights (models/models.json).
//
// Usage: node scripts/eval-table.mjs [--model ID | --weights PATH] [--bin PATH] [--engine cpu|torch]
//                                    [--classifier PATH] [--data PATH] [--out PATH] [--samples N]
//                                    [--confirm-seed N] [--leave-out S1,S2]
//   --confirm-seed N: the baseline, the two Tuned schedules and the paper's split again on a second
//     test seed (same sample count, decode seeds disjoint from the selection's and the test's), so
//     that a gap can be told from one seed's luck; stored as the table's `confirm`.
//   --leave-out S1,S2: a provisional table without some of the extra rows (those that are not a
//     page preset or the baseline), for when a session runs short; it lists them as `left_out`,
//     and the same command without the flag adds them (every other row comes from the cache).
// Each test row also carries its gap to the baseline (`gap`, FID / baseline FID − 1) with a paired
// bootstrap interval (`gap_ci95`, `magnets fid-gap`): the rows are the same draws, so the
// reference's noise, which moves every row's FID together, cancels in the gap.
//   --engine torch needs the fast build: --bin scripts/magnets-fast.sh (the same tokens, ~1.4× faster)
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TUNED_PICKS } from '../www/assets.js';
import { EXTRA_ROWS, PRESET_ROWS, arg, cachedRow, magnetsBin, modelConfig, sameSampling, samplingFlags, samplingKey, samplingOf, sha256, withPairedGaps } from './lib/eval-rows.mjs';

const registry = JSON.parse(fs.readFileSync('models/models.json', 'utf8'));
const modelId = arg('--model', registry.default);
const shipped = registry.models.find((m) => m.id === modelId);
if (!shipped && !arg('--weights')) throw new Error(`--model ${modelId}: not in models/models.json`);
const bin = magnetsBin();
const weights = arg('--weights', shipped && `models/${shipped.weights}`);
const out = arg('--out', weights.replace(/\.safetensors$/, '.eval.json'));
const engine = arg('--engine', 'cpu');
const instrument = [['--classifier', arg('--classifier')], ['--data', arg('--data')]].filter(([, v]) => v);
// --samples: fewer test samples for a provisional table (the page shows the count it was made with).
const sampling = samplingOf(shipped);
const settings = { samples: Number(arg('--samples', '10000')), seed: 0, ...sampling };
const selection = { samples: 2000, seed: 1000 };
const baseline = { schedule: 'XL12', cache: 'off' };
// `magnets eval` decodes batch j (BATCH images, passed explicitly) with seed + j: selection and
// test must not share a draw.
const BATCH = 64;
const seedRange = ({ samples, seed }) => [seed, seed + Math.ceil(samples / BATCH) - 1];
const confirmSeed = arg('--confirm-seed');
if (process.argv.includes('--confirm-seed') && confirmSeed === undefined) throw new Error('--confirm-seed: expected a seed after it');
const confirm = confirmSeed === undefined ? null : { samples: settings.samples, seed: Number(confirmSeed) };
if (confirm && !(Number.isInteger(confirm.seed) && confirm.seed >= 0)) throw new Error(`--confirm-seed ${confirmSeed}: expected a seed (a whole number ≥ 0)`);
const draws = [['selection', selection], ['test', settings], ...(confirm ? [['--confirm-seed', confirm]] : [])].map(([name, d]) => [name, seedRange(d)]);
for (const [i, [a, [a0, a1]]] of draws.entries()) {
  for (const [b, [b0, b1]] of draws.slice(i + 1)) {
    if (a0 <= b1 && b0 <= a1) throw new Error(`the ${a} draw's decode seeds ${a0}..${a1} overlap the ${b} draw's ${b0}..${b1}`);
  }
}
const extraRows = EXTRA_ROWS.map(([s]) => s);
const leaveOut = (arg('--leave-out') || '').split(',').filter(Boolean);
for (const s of leaveOut) {
  if (!extraRows.includes(s)) throw new Error(`--leave-out ${s}: only the extra rows (${extraRows.join(', ')}) can be left out`);
}
const rows = [...PRESET_ROWS, ...EXTRA_ROWS.filter(([s]) => !leaveOut.includes(s))];
// Small → large splits of 12 steps (from `magnets flops --json` over all 364 splits, at the
// default widths): with ≥ 3× less compute, those that keep the most compute in L and XL plus the
// S-first variants; with 4.0–4.4×, the splits that give few steps to the small widths. Each
// pick is the best of every candidate that reaches its ratio at this model's widths.
const CANDIDATES = ['M3L4XL5', 'M1L7XL4', 'M2L6XL4', 'M3L5XL4', 'S1L7XL4', 'M4L3XL5', 'M4L4XL4', 'L9XL3',
  'S1M2L4XL5', 'S1M3L3XL5', 'L10XL2', 'S2M2L3XL5', 'M6XL6', 'S2M2L4XL4', 'S3M3XL6', 'S3M3L3XL3',
  'S1M1L8XL2', 'S2L8XL2', 'S1M2L7XL2', 'S1M3L5XL3', 'M4L5XL3', 'M3L7XL2', 'S3L6XL3', 'S3M1L5XL3',
  'S2M2L5XL3', 'S3M2L3XL4', 'S3L7XL2', 'S4L5XL3'];

const weightsSha = sha256(weights);
const instrumentKey = createHash('sha256').update(JSON.stringify(instrument.map(([f, v]) => [f, sha256(v)]))).digest('hex').slice(0, 8);

// A test row keeps its images' FID features (`features`), so that its gap to the baseline gets a
// paired interval (`magnets fid-gap`). Selection rows only rank schedules and keep none.
function evalRow(schedule, cache, { samples, seed }, { features = false } = {}) {
  const key = [weightsSha.slice(0, 12), instrumentKey, schedule, cache, samples, seed, samplingKey(sampling)];
  const { file, row: r } = cachedRow({
    bin,
    cacheDir: 'data/eval10k',
    key,
    args: ['eval', '--weights', weights, '--schedule', schedule, '--cache', cache, '--engine', engine,
      '--samples', String(samples), '--seed', String(seed), '--batch', String(BATCH), ...samplingFlags(sampling),
      ...instrument.flat(), '--json'],
    label: `eval --schedule ${schedule} --cache ${cache} (${samples} samples, seed ${seed})`,
    featuresOut: features,
  });
  // Rows carry the decode seeds `magnets eval` used (rows measured before it printed them do not).
  const seeds = seedRange({ samples, seed });
  if (r.seeds && (r.seeds[0] !== seeds[0] || r.seeds[1] !== seeds[1])) {
    throw new Error(`${file}: magnets eval used decode seeds ${r.seeds.join('..')}, the script assumed ${seeds.join('..')}`);
  }
  if (r.samples !== samples || r.seed !== seed || !sameSampling(r, sampling) || r.schedule !== schedule || r.cache !== cache) {
    throw new Error(`${file} does not hold the row ${schedule} cache ${cache} with ${samples} samples, seed ${seed}`);
  }
  return r;
}

// Every row's gap to the baseline of the same draws, with its paired 95% interval.
const withGaps = (rows, { samples, seed }) => withPairedGaps({
  bin,
  cacheDir: 'data/eval10k',
  key: [weightsSha.slice(0, 12), instrumentKey, 'gaps', samples, seed, samplingKey(sampling)],
  rows,
  baseline,
  referenceFlags: instrument.flat(),
  what: `${samples} samples, seed ${seed}`,
});

// 1. Selection on its own seed.
const candidates = CANDIDATES.map((schedule) => {
  const r = evalRow(schedule, 'on', selection);
  return { schedule, fid: r.fid, flops_ratio: r.flops_ratio };
}).sort((a, b) => a.fid - b.fid);
const picks = Object.fromEntries(TUNED_PICKS.map(([key, , minRatio]) => {
  const tried = candidates.filter((r) => r.flops_ratio >= minRatio);
  if (!tried.length) throw new Error(`no candidate schedule has ≥ ${minRatio}× less compute at this model's widths`);
  return [key, {
    schedule: tried[0].schedule,
    cache: 'on',
    min_ratio: minRatio,
    chosen: `the best FID-emoji of ${tried.length} small → large schedules with ≥ ${minRatio}× less compute, `
      + `${selection.samples.toLocaleString('en-US')} samples on the selection seed ${selection.seed}`,
    selection: tried,
  }];
}));
// The tuned schedules join the test rows when they are not among them.
for (const { schedule } of Object.values(picks)) {
  if (!rows.some(([s, c]) => s === schedule && c === 'on')) rows.push([schedule, 'on']);
}

// 2. The test rows.
const pick = ({ fid, fid_ci95, precision, recall, class_accuracy, class_accuracy_by_class, gflops_per_image, flops_ratio, features_file }) =>
  ({ fid, fid_ci95, precision, recall, class_accuracy, class_accuracy_by_class, gflops_per_image, flops_ratio, features_file });
const measured = withGaps(rows.map(([schedule, cache]) => ({ schedule, cache, ...pick(evalRow(schedule, cache, settings, { features: true })) })), settings);
// 3. The rows a model's claims rest on, on a second test seed.
const confirmed = confirm && {
  ...confirm,
  rows: [[baseline.schedule, baseline.cache], ...Object.values(picks).map((p) => [p.schedule, p.cache]), ['S3M3L3XL3', 'on']]
    .filter(([s, c], i, all) => all.findIndex(([s2, c2]) => s2 === s && c2 === c) === i)
    .map(([schedule, cache]) => ({ schedule, cache, ...pick(evalRow(schedule, cache, confirm, { features: true })) })),
};
if (confirmed) confirmed.rows = withGaps(confirmed.rows, confirm);
// Real held-out images on the same instrument: the class accuracy samples are measured against
// (overall and per category; the classifier does not name every real image's category either).
const real = cachedRow({
  bin,
  cacheDir: 'data/eval10k',
  key: [instrumentKey, 'real-held-out'],
  args: ['eval-images', '--split', 'held-out', '--reference', 'train', ...instrument.flat(), '--json'],
  label: 'eval-images --split held-out (real images)',
  current: (r) => Array.isArray(r.class_accuracy_by_class),
}).row;
const table = {
  model: path.basename(weights),
  model_sha256: weightsSha,
  command: `magnets eval --weights ${weights} --schedule SCHEDULE --cache CACHE --samples ${settings.samples} --seed ${settings.seed}`
    + ` ${samplingFlags(sampling).join(' ')}${instrument.map(([f, v]) => ` ${f} ${v}`).join('')} --json`,
  instrument: Object.fromEntries(instrument.map(([f, v]) => [f.slice(2), { file: v, sha256: sha256(v) }])),
  settings,
  baseline,
  ...picks,
  classes: modelConfig(weights).class_names,
  real_held_out: { count: real.count, class_accuracy: real.class_accuracy, class_accuracy_by_class: real.class_accuracy_by_class },
  rows: measured,
  ...(leaveOut.length ? { left_out: leaveOut } : {}),
  ...(confirmed ? { confirm: confirmed } : {}),
};
fs.writeFileSync(out, JSON.stringify(table, null, 1) + '\n');
console.error(`wrote ${out} (${measured.length} rows; tuned ${picks.tuned.schedule}, tuned ≥ 4× ${picks.tuned_4x.schedule})`);
