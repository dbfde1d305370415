// The compute budget: of the schedules measured in the eval table (scripts/eval-table.mjs), the
// best one (lowest FID-emoji) that costs at most a given number of GFLOPs per image, and the
// quality–compute front those picks trace. Pure functions over the table's rows
// ({schedule, cache, fid, gflops_per_image, …}); the page draws and wires them.

const signed = (p) => `${p > 0 ? '+' : p < 0 ? '−' : '±'}${Math.abs(p)}`;

// A row's FID against the baseline's in whole percent (text "+16%"), and where the table
// carries it the paired 95% interval of that gap (interval "+12…+21%"; scripts/eval-table.mjs
// measures it over the same draws, so it is far narrower than the two rows' own intervals).
// Null for the baseline itself. The one place the page words a gap.
export function gapToBaseline(row, base) {
  if (!base || row === base) return null;
  const ci = row.gap_ci95 ? row.gap_ci95.map((x) => Math.round(100 * x)) : null;
  return { text: `${signed(Math.round(100 * (row.fid / base.fid - 1)))}%`, interval: ci && `${signed(ci[0])}…${signed(ci[1])}%` };
}

// Lowest FID among rows with gflops_per_image ≤ budget, or null when none fits.
export function bestUnder(rows, budget) {
  let best = null;
  for (const r of rows) {
    if (r.gflops_per_image <= budget * (1 + 1e-9) && (!best || r.fid < best.fid)) best = r;
  }
  return best;
}

// The front: rows no other row beats on both compute and quality, by growing compute.
export function front(rows) {
  const sorted = [...rows].sort((a, b) => a.gflops_per_image - b.gflops_per_image || a.fid - b.fid);
  const out = [];
  for (const r of sorted) if (!out.length || r.fid < out[out.length - 1].fid) out.push(r);
  return out;
}

// Slider position (0…steps) ↔ GFLOPs, on a log scale spanning the measured rows.
export function budgetScale(rows, steps = 1000) {
  const gs = rows.map((r) => r.gflops_per_image);
  const lo = Math.log(Math.min(...gs)), hi = Math.log(Math.max(...gs));
  return {
    steps,
    toGflops: (pos) => Math.exp(lo + (hi - lo) * (pos / steps)),
    toPos: (g) => Math.round(Math.max(0, Math.min(1, (Math.log(g) - lo) / (hi - lo || 1))) * steps),
  };
}

// Where a schedule of `gflops` (and measured `fid`, or null) sits against the front: the best
// measured row at no more compute, and how much worse than it the schedule is.
export function standing(rows, gflops, fid) {
  const best = bestUnder(rows, gflops);
  if (!best) return { best: null, onFront: false, fidGap: null };
  if (fid == null) return { best, onFront: false, fidGap: null };
  const onFront = fid <= best.fid + 1e-9;
  return { best, onFront, fidGap: onFront ? 0 : fid - best.fid };
}

// The sentence under the slider: the pick within `budget`, then where the current schedule
// ({schedule, gflops, fid or null when not measured}) sits. `t` is the whole eval table.
export function describeBudget(t, budget, current, fmt) {
  const base = t.rows.find((r) => r.schedule === t.baseline.schedule && r.cache === t.baseline.cache);
  const best = bestUnder(t.rows, budget);
  const now = standing(t.rows, current.gflops, current.fid);
  const name = (r) => (r === base ? `MaskGIT ${r.schedule}` : r.schedule + (r.cache === 'off' ? ' (no cache)' : ''));
  const vsBase = (r) => {
    const g = gapToBaseline(r, base);
    return g ? `${g.text} vs MaskGIT${g.interval ? `, 95% ${g.interval}` : ''}` : 'the baseline';
  };
  const pick = best
    ? `Best measured within it: ${name(best)}, FID ${best.fid.toFixed(1)} (${vsBase(best)}) at ${fmt(best.gflops_per_image)} GFLOPs.`
    : `Nothing measured costs that little; the cheapest is ${fmt(Math.min(...t.rows.map((r) => r.gflops_per_image)))} GFLOPs.`;
  const at = `its ${fmt(current.gflops)} GFLOPs`;
  let where;
  if (current.fid != null && now.onFront) where = `Yours, ${current.schedule}, is on the front: nothing measured is better at its compute.`;
  else if (current.fid != null && now.best) where = `Yours, ${current.schedule}, is ${now.fidGap.toFixed(1)} FID above the front at ${at} (${name(now.best)} gets ${now.best.fid.toFixed(1)}).`;
  else if (now.best) where = `Yours, ${current.schedule}, is not measured; at ${at} the front is at FID ${now.best.fid.toFixed(1)} (${name(now.best)}).`;
  else where = `Yours, ${current.schedule}, costs less than anything measured.`;
  return { best, text: `${pick} ${where}` };
}

// The slider, its read-out and the sentence: els {box, slider, out, unit, pick}; table null
// hides it. `unit` is what one GFLOP count is per (an image, or a clip).
export function renderBudgetControl(els, { table, budget, current, fmt, unit = 'image' }) {
  els.box.hidden = !table;
  if (!table) return;
  const scale = budgetScale(table.rows);
  els.slider.max = String(scale.steps);
  // Not while the reader drags it: the position is theirs, the GFLOPs follow from it.
  if (document.activeElement !== els.slider) els.slider.value = String(scale.toPos(budget));
  els.slider.dataset.budget = String(budget);
  els.slider.setAttribute('aria-valuetext', `at most ${fmt(budget)} GFLOPs per ${unit}`);
  els.out.textContent = fmt(budget);
  els.unit.textContent = unit;
  const { best, text } = describeBudget(table, budget, current, fmt);
  els.pick.textContent = text;
  els.pick.dataset.pick = best ? `${best.schedule}/${best.cache}` : '';
}
