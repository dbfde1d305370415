// What the two quality-table scripts share (eval-table.mjs for images, eval-clips-table.mjs for
// clips): flags, content hashes, the rows every table holds, and the row cache that lets an
// interrupted table resume. A row is one `magnets eval …` / `magnets eval-clips …` call; its JSON
// is kept under data/ in a file named by the weights' and instrument's hashes and the row's
// settings, so a changed file is measured afresh and an unchanged one never twice.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The value after flag `name` on the command line, else `dflt`. */
export const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};

export const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** The `magnets` binary: --bin, else the release build in the shared target dir. */
export const magnetsBin = () => arg('--bin',
  path.join(process.env.CARGO_TARGET_DIR || path.join(process.env.HOME, '.cache/magnets-target'), 'release/magnets'));

/** A shipped model's sampling settings (models/models.json `sampling`), else the CLI's defaults
 *  for other weights, in the tables' shape: { temperature, tau, guidance, guidance_schedule }. */
export const samplingOf = (shipped) => ({ temperature: 1, tau: 4.5, guidance: 0, guidance_schedule: 'constant', ...(shipped && shipped.sampling) });

/** The flags that make `magnets eval`/`eval-clips` decode with these settings. */
export const samplingFlags = ({ temperature, tau, guidance, guidance_schedule }) =>
  ['--temperature', String(temperature), '--noise', String(tau), '--guidance', String(guidance), '--guidance-schedule', guidance_schedule];

/** The settings in a row's cache file name (a constant guidance schedule is left out, as in
 *  the rows measured before there was a choice). */
export const samplingKey = ({ temperature, tau, guidance, guidance_schedule }) =>
  `t${temperature}-tau${tau}-g${guidance}${guidance_schedule === 'constant' ? '' : `-${guidance_schedule}`}`;

/** Whether a row's JSON was decoded with these settings (f32 in the row, so compared loosely; a
 *  row without `guidance_schedule` was decoded with the constant one). */
export const sameSampling = (r, { temperature, tau, guidance, guidance_schedule }) =>
  [[r.temperature, temperature], [r.noise, tau], [r.guidance, guidance]].every(([a, b]) => typeof a === 'number' && Math.abs(a - b) < 1e-6)
  && (r.guidance_schedule ?? 'constant') === guidance_schedule;

/** The page's presets (cache on, its default; the baseline also without): every table holds them. */
export const PRESET_ROWS = [
  ['XL12', 'off'], ['XL12', 'on'], ['S12', 'on'], ['M12', 'on'], ['L12', 'on'],
  ['S3M3L3XL3', 'on'], ['XL3L3M3S3', 'on'],
];
/** The schedules docs/RESULTS.md discusses beside the presets (a provisional table may leave them out). */
export const EXTRA_ROWS = [['M3L4XL5', 'on'], ['L6XL6', 'on']];
export const TABLE_ROWS = [...PRESET_ROWS, ...EXTRA_ROWS];

/**
 * One row's JSON, measured once: `cacheDir/KEY.json` holds it, else `bin args…` is run (its
 * stdout is the JSON) and the file written. `key` is the list of what identifies the row;
 * `current(row)` says whether a cached row was made the way `bin` makes it now (a row from an
 * older measurement is measured again). With `featuresOut`, the row also keeps its FID features
 * beside the JSON (`--features-out KEY.features.safetensors`, for a paired gap; see
 * withPairedGaps), a cached row without them is measured again, and the row comes back with
 * `features_file`.
 */
export function cachedRow({ bin, cacheDir, key, args, label, current = () => true, featuresOut = false }) {
  fs.mkdirSync(cacheDir, { recursive: true });
  const file = path.join(cacheDir, `${key.join('.')}.json`);
  const featuresFile = path.join(cacheDir, `${key.join('.')}.features.safetensors`);
  const stale = (row) => !current(row) || (featuresOut && !fs.existsSync(featuresFile));
  if (!fs.existsSync(file) || stale(JSON.parse(fs.readFileSync(file, 'utf8')))) {
    console.error(`== magnets ${label}`);
    const features = featuresOut ? ['--features-out', featuresFile] : [];
    fs.writeFileSync(file, execFileSync(bin, [...args, ...features], { stdio: ['ignore', 'pipe', 'inherit'] }));
  }
  const row = JSON.parse(fs.readFileSync(file, 'utf8'));
  return { file, row: featuresOut ? { ...row, features_file: featuresFile } : row };
}

/**
 * Every row's gap to the baseline row of the same draws, with its paired 95% interval: one
 * `magnets fid-gap` over the rows' features files (`features_file`, from `--features-out`),
 * cached like a row under `key` plus a hash of the features' contents, so a row measured again is
 * compared again. `referenceFlags` name the files the rows were scored against. The gap's FIDs
 * are the rows' own (the same features against the same reference): checked. Returns the rows
 * with `gap` and `gap_ci95` (none on the baseline), without `features_file`.
 */
export function withPairedGaps({ bin, cacheDir, key, rows, baseline, referenceFlags, what }) {
  const base = rows.find((r) => r.schedule === baseline.schedule && r.cache === baseline.cache);
  const others = rows.filter((r) => r !== base);
  const { file, row: gaps } = cachedRow({
    bin,
    cacheDir,
    key: [...key, createHash('sha256').update([base, ...others].map((r) => `${r.schedule}.${r.cache}.${sha256(r.features_file)}`).join(',')).digest('hex').slice(0, 12)],
    args: ['fid-gap', '--baseline', base.features_file, ...others.flatMap((r) => ['--other', r.features_file]), ...referenceFlags, '--json'],
    label: `fid-gap over ${others.length} rows (${what})`,
  });
  return rows.map((row) => {
    const { features_file: _, ...r } = row;
    if (row === base) return r;
    const g = gaps.rows.find((x) => x.schedule === r.schedule && x.cache === r.cache);
    if (!g || Math.abs(g.gap.fid - r.fid) > 1e-6 * r.fid || Math.abs(g.gap.fid_baseline - base.fid) > 1e-6 * base.fid) {
      throw new Error(`${file}: no gap for ${r.schedule} cache ${r.cache} matching its row (delete the file to measure it again)`);
    }
    return { ...r, gap: g.gap.gap, gap_ci95: g.gap.gap_ci95 };
  });
}

/** The model config a weights file carries in its safetensors metadata (`magnets.config`). */
export function modelConfig(weights) {
  const bytes = fs.readFileSync(weights);
  const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8'));
  const config = header.__metadata__ && header.__metadata__['magnets.config'];
  if (!config) throw new Error(`${weights}: no magnets.config in the safetensors metadata`);
  return JSON.parse(config);
}
