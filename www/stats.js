// The numbers under the grids: compute of the schedule (planned, or measured by the decode),
// time per step, measured quality against the baseline, the device, and each grid's subtitle.
import { tableMetric } from './assets.js';
import { gapToBaseline } from './budget.js';

// GFLOPs and other magnitudes with three significant digits.
export const fmt3 = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const fmtMs = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

// Mean ms per decode step of a run, or null before its first step.
export function meanStepMs(run) {
  if (!run || !run.steps.length) return null;
  // The first step also uploads and warms up; report the mean of the others when there are any.
  const ms = run.steps.map((s) => s.ms);
  const rest = ms.length > 1 ? ms.slice(1) : ms;
  return rest.reduce((a, b) => a + b, 0) / rest.length;
}

// els: {gflops, ratio, ms, msSub, fid, fidSub, device, mainSub, baseSub} elements.
//   plan: flops::FlopsSummary of the schedule in use (or null); main, base: the runs (or undefined);
//   quality: {row, base, table} the measured rows of the schedule and the baseline (or null);
//   haveTable: whether an eval table exists for this model; info: the engine's info (or null).
export function renderStats(els, { plan, main, base, quality, haveTable, info }) {
  let gflops = null, ratio = null;
  if (plan) { gflops = plan.total_gflops; ratio = plan.ratio; }
  else if (main && main.trace) { gflops = main.trace.total_flops / 1e9; ratio = main.trace.baseline_flops / main.trace.total_flops; }
  els.gflops.textContent = gflops == null ? '–' : fmt3(gflops);
  els.ratio.textContent = ratio == null ? '–' : ratio.toFixed(2) + '×';
  const mm = meanStepMs(main);
  const bm = meanStepMs(base);
  els.ms.textContent = mm == null ? '–' : (bm == null ? fmtMs(mm) : `${fmtMs(mm)} vs ${fmtMs(bm)}`);
  els.ms.title = bm == null ? 'mean decode time per step (after the first)' : 'this schedule vs the baseline';
  // Compare mode, both decoded: the wall-clock ratio of the whole decodes, beside the FLOPs ratio
  // above it (on one device, one after the other).
  const timeRatio = main && base && main.trace && base.trace && main.trace.ms > 0 ? base.trace.ms / main.trace.ms : null;
  els.msSub.textContent = timeRatio == null ? '' : `${timeRatio.toFixed(2)}× less time than the baseline`;
  els.msSub.title = timeRatio == null ? '' : `whole decode: ${fmtMs(main.trace.ms)} ms vs ${fmtMs(base.trace.ms)} ms`;
  const q = quality;
  if (q) {
    const gap = gapToBaseline(q.row, q.base);
    els.fid.textContent = gap ? gap.text : 'baseline';
    els.fidSub.textContent = gap
      ? `${q.row.fid.toFixed(1)} vs ${q.base.fid.toFixed(1)}${gap.interval ? ` · 95% ${gap.interval}` : ''}`
      : `${q.row.fid.toFixed(1)}`;
    els.fid.title = `${tableMetric(q.table, q.row).what}, `
      + `seed ${q.table.settings.seed}${gap ? `; MaskGIT baseline ${q.base.schedule} (cache ${q.base.cache}): ${q.base.fid.toFixed(1)}` : ''}`
      + (gap && gap.interval ? `\n95% interval of the gap: a paired bootstrap over the same draws and reference (magnets fid-gap), ${gap.interval}` : '')
      + `\n${q.table.command}`
      + (q.table.served_int8 ? '\nmeasured with the f16 weights; this page runs their int8 copy (half the download; docs/RESULTS.md measures the difference)' : '');
    els.fid.classList.remove('small');
  } else {
    els.fidSub.textContent = '';
    els.fid.textContent = haveTable ? 'not measured' : '–';
    els.fid.title = haveTable ? 'measured for the presets and a few schedules at the default sampling settings; `magnets eval` measures any' : '';
    els.fid.classList.toggle('small', haveTable);
  }
  els.device.textContent = info ? `${info.adapter || info.describe}` : '–';
  els.device.title = info ? `${info.describe}\nimages decoded on: ${info.images}` : '';
  const sub = (run, el) => {
    if (!run) { el.textContent = ''; return; }
    const g = run.trace ? run.trace.total_flops / 1e9 : null;
    const ms = meanStepMs(run);
    el.textContent = [run.schedule, g != null ? fmt3(g) + ' GFLOPs' : null, ms != null ? fmtMs(ms) + ' ms/step' : null].filter(Boolean).join(' · ');
  };
  sub(main, els.mainSub);
  sub(base, els.baseSub);
}
