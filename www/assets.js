// The page's files besides the engine's: the models manifest, the measured quality table and the
// tokenizer's preview palette. Each loader returns its data (or null when the file is missing or
// does not belong to the model in use); none of them is needed for the demo to run.

// models/manifest.json (written by scripts/build-web.sh): {files: {name: {sha256, bytes, random}}}.
// It versions the model URLs so the Cache API never serves a stale model after an update.
export async function loadManifest() {
  try {
    const r = await fetch('models/manifest.json', { cache: 'no-cache' });
    return r.ok ? await r.json() : null;
  } catch (_) {
    return null;
  }
}

// The manifest's entry {sha256, bytes, random} for a models/ path, or undefined.
export const manifestEntry = (manifest, path) => manifest && manifest.files && manifest.files[path.replace(/^models\//, '')];

// The URL to fetch a model file by: its path plus its content hash, when the manifest has one.
export function versionedUrl(manifest, path) {
  const entry = manifestEntry(manifest, path);
  return entry && entry.sha256 ? `${path}?v=${entry.sha256.slice(0, 16)}` : path;
}

// Measured quality of some schedules on the shipped model (scripts/eval-table.mjs writes
// NAME.eval.json next to NAME.safetensors), only for the exact weights it was measured on: the
// served file, or the f16 file the served int8 copy was made from (`source_sha256`; the table's
// `served_int8` then says so, and docs/RESULTS.md measures what int8 changes).
export async function loadEvalTable(manifest, weightsPath) {
  if (!/\.safetensors$/.test(weightsPath)) return null;
  const entry = manifestEntry(manifest, weightsPath);
  if (!entry || !entry.sha256) return null;
  // A staged model's table is listed in the manifest: no listing, no table (and no 404).
  if (manifest.files && !manifestEntry(manifest, weightsPath.replace(/\.safetensors$/, '.eval.json'))) return null;
  try {
    const r = await fetch(weightsPath.replace(/\.safetensors$/, '.eval.json'), { cache: 'no-cache' });
    if (!r.ok) return null;
    const t = await r.json();
    const int8Of = entry.stored === 'int8' && t.model_sha256 === entry.source_sha256;
    if ((t.model_sha256 !== entry.sha256 && !int8Of) || !Array.isArray(t.rows) || !t.settings || !t.baseline) return null;
    return int8Of ? { ...t, served_int8: true } : t;
  } catch (_) {
    return null;
  }
}

// The eval table's row for (schedule, cache) — e.g. its `baseline` or `tuned` entry — or undefined.
export const evalRow = (t, { schedule, cache }) => t.rows.find((r) => r.schedule === schedule && r.cache === cache);

// The eval table's tuned picks: its key for each, the name the page and the docs give it, and
// the least compute saving (×) scripts/eval-table.mjs picks it at.
export const TUNED_PICKS = [['tuned', 'Tuned', 3], ['tuned_4x', 'Tuned 4×', 4]];

// What an eval table measures: an image model's scripts/eval-table.mjs gives FID-emoji over
// class-balanced samples, a clip model's scripts/eval-clips-table.mjs frame-FID over predicted
// clips. `metric` names it, `unit` is what one GFLOP count is per, `count` says how many were
// measured per row and `what` describes the measure in a sentence.
export function tableMetric(t, row = t.rows[0]) {
  if (t.kind === 'clip') {
    return {
      metric: 'frame-FID', unit: 'clip', count: `${row.clips} predicted clips (frame-FID)`,
      what: `frame-FID (lower is better) of ${row.clips} predicted clips (frames 2–8 against the real held-out frames)`,
    };
  }
  const samples = t.settings.samples.toLocaleString('en-US');
  return {
    metric: 'FID-emoji', unit: 'image', count: `${samples} samples`,
    what: `FID-emoji (lower is better) of ${samples} class-balanced samples`,
  };
}

// Whether the table was measured with these sampling settings ({temp, tau, g, gs}: models.js
// samplingFor). A table without a guidance schedule predates the ramp: constant.
export const measuredWith = (t, s) => !!t && s.temp === t.settings.temperature && s.tau === t.settings.tau && s.g === t.settings.guidance
  && s.gs === (t.settings.guidance_schedule || 'constant');

// How the page writes a guidance setting: "4" or "4, ramped up linearly".
export const guidanceText = (g, schedule) => (schedule === 'linear' && g > 0 ? `${g}, ramped up linearly` : String(g));

// The tokenizer's typical colour per code (`magnets web-assets`, staged next to the tokenizer as
// NAME.palette.json). Until a step's pixels are decoded, which on a software adapter or the CPU
// fallback takes the whole decode, its tokens are painted with these colours: a coarse emoji
// instead of noise. Missing or not made for this tokenizer: null (cells.js uses a hue per code).
export async function loadPalette(manifest, tokenizerPath) {
  if (!tokenizerPath || !/\.safetensors$/.test(tokenizerPath)) return null;
  try {
    const r = await fetch(tokenizerPath.replace(/\.safetensors$/, '.palette.json'), { cache: 'no-cache' });
    if (!r.ok) return null;
    const p = await r.json();
    const entry = manifestEntry(manifest, tokenizerPath);
    if (entry && entry.sha256 && p.tokenizer_sha256 !== entry.sha256) return null;
    if (!Number.isInteger(p.codebook) || !Array.isArray(p.rgb) || p.rgb.length !== 3 * p.codebook) return null;
    return p;
  } catch (_) {
    return null;
  }
}
