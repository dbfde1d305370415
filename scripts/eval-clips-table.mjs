#!/usr/bin/env node
// The clip model's quality per schedule (frame prediction): every row is the JSON of
//   magnets eval-clips --weights W --schedule S --cache C --per-clip 4 --seed SEED --json
// (each of the 81 held-out clips continued from its first frame 4 times; the all-art classifier; frame-FID against the
// real held-out frames, motion against the real clips', PSNR, GFLOPs per clip). Writes
// NAME.eval.json next to the weights in the image tables' shape (`fid` is the frame-FID), so
// the page's quality card reads it as it reads theirs. Rows are cached in data/evalclips/.
//
// Usage: node scripts/eval-clips-table.mjs [--weights PATH] [--bin PATH] [--engine cpu|torch] [--seed N] [--per-clip K] [--out PATH]
//                                          [--also SCHEDULE,…]
import fs from 'node:fs';
import path from 'node:path';
import { TABLE_ROWS, arg, cachedRow, magnetsBin, sha256 } from './lib/eval-rows.mjs';

const bin = magnetsBin();
const weights = arg('--weights', 'models/magnets-anim.safetensors');
const engine = arg('--engine', 'cpu');
// The all-art FID classifier: trained on eight styles, Fluent among them.
const classifier = arg('--classifier', 'models/all-art/classifier.safetensors');
const seed = Number(arg('--seed', '0'));
const out = arg('--out', weights.replace(/\.safetensors$/, '.eval.json'));
const settings = { per_clip: Number(arg('--per-clip', '4')), seed, temperature: 1, tau: 4.5, guidance: 0 };
const baseline = { schedule: 'XL12', cache: 'off' };
const rows = [...TABLE_ROWS];
// --also S1,S2: more schedules (cache on), e.g. one chosen on a selection seed (docs/RESULTS.md).
for (const s of (arg('--also', '') || '').split(',').filter(Boolean)) if (!rows.some(([r]) => r === s)) rows.push([s, 'on']);

const weightsSha = sha256(weights);
const classifierSha = sha256(classifier);

function evalRow(schedule, cache) {
  return cachedRow({
    bin,
    cacheDir: 'data/evalclips',
    key: [weightsSha.slice(0, 12), classifierSha.slice(0, 8), schedule, cache, settings.per_clip, seed],
    args: ['eval-clips', '--weights', weights, '--schedule', schedule, '--cache', cache, '--engine', engine,
      '--per-clip', String(settings.per_clip), '--seed', String(seed), '--classifier', classifier, '--json'],
    label: `eval-clips --schedule ${schedule} --cache ${cache} (seed ${seed})`,
  }).row;
}

const measured = rows.map(([schedule, cache]) => {
  const r = evalRow(schedule, cache);
  return {
    schedule, cache, fid: r.frame_fid, fid_ci95: r.frame_fid_ci95, precision: r.precision, recall: r.recall,
    motion: r.motion, real_motion: r.real_motion, real_recon_motion: r.real_recon_motion, motion_ratio: r.motion_ratio, future_psnr: r.future_psnr,
    copy_first_frame_psnr: r.copy_first_frame_psnr, gflops_per_image: r.gflops_per_clip, flops_ratio: r.flops_ratio, clips: r.clips,
  };
});
const table = {
  model: path.basename(weights),
  model_sha256: weightsSha,
  kind: 'clip',
  command: `magnets eval-clips --weights ${weights} --schedule SCHEDULE --cache CACHE --per-clip ${settings.per_clip} --seed ${seed} --classifier ${classifier} --json`,
  instrument: { classifier: { file: classifier, sha256: classifierSha } },
  metric: 'frame-FID: the FID classifier\'s features of predicted frames 1..7 against the real held-out frames 1..7',
  settings,
  baseline,
  rows: measured,
};
fs.writeFileSync(out, JSON.stringify(table, null, 1) + '\n');
console.error(`wrote ${out} (${measured.length} rows)`);
for (const r of measured) {
  console.error(`${r.schedule.padEnd(10)} ${r.cache.padEnd(3)} frame-FID ${r.fid.toFixed(2)} [${r.fid_ci95.map((v) => v.toFixed(2)).join(', ')}]`
    + `  motion ${r.motion.toFixed(2)} (real ${r.real_motion.toFixed(2)})  PSNR ${r.future_psnr.toFixed(2)} dB  ${r.flops_ratio.toFixed(2)}x less compute`);
}
