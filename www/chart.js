// The quality–compute chart: the eval table's measured schedules as FID-emoji against GFLOPs per
// image, both on log scales — the paper's trade-off, measured on this model. A point loads its
// schedule; the current schedule is ringed when measured, else drawn as a dashed line at its
// compute. Label placement is a pure function (placeLabels), tested in node.
import { front, gapToBaseline } from './budget.js';

// Candidate label spots around a point: [dx, dy (baseline), text-anchor], in order of preference.
const SPOTS = [[8, -6, 'start'], [8, 14, 'start'], [-8, -6, 'end'], [-8, 14, 'end'], [0, -11, 'middle'], [0, 20, 'middle'],
  [8, -18, 'start'], [-8, -18, 'end'], [8, 26, 'start'], [-8, 26, 'end']];
const LABEL_H = 12;
// A label that only fits over others costs more than this; it is left out unless it must show.
const DROP_COST = 150;

const overlap = (a, b) => Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x)) * Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
const pad = (o) => ({ x: o.x - 4, y: o.y - 1, w: o.w + 8, h: o.h + 2 }); // labels keep a gap
// Distance from a box to a point (0 inside).
const gap = (b, px, py) => {
  const mx = b.x + b.w / 2, my = b.y + b.h / 2;
  return Math.hypot(Math.max(Math.abs(mx - px) - b.w / 2, 0), Math.max(Math.abs(my - py) - b.h / 2, 0));
};

// Places labels one after another where they overlap points and earlier labels least.
//   labels: [{cx, cy, w, mustShow}] (point position, label width in px), in placing order;
//   dots:   [[x, y]] every point of the plot (labels avoid all of them);
//   bounds: {left, right, top, bottom} the area labels must stay inside.
// Returns, per label, {x, y, anchor, box} (the text's position and text-anchor) or null when it
// is left out: on a small plot a label that only fits over others is dropped (its point keeps
// its tooltip) unless mustShow.
export function placeLabels(labels, dots, bounds) {
  const boxes = [];
  const cost = (b) => boxes.reduce((c, o) => c + 3 * overlap(b, pad(o)), 0)
    + dots.reduce((c, [cx, cy]) => c + overlap(b, { x: cx - 6, y: cy - 6, w: 12, h: 12 }), 0)
    + 50 * (Math.max(0, bounds.left - b.x) + Math.max(0, b.x + b.w - bounds.right) + Math.max(0, bounds.top - b.y) + Math.max(0, b.y + b.h - bounds.bottom));
  // A label nearer to another point than to its own would name the wrong one.
  const misleading = (b, cx, cy) => {
    const own = gap(b, cx, cy);
    return dots.some(([px, py]) => (px !== cx || py !== cy) && gap(b, px, py) < own) ? 500 : 0;
  };
  return labels.map(({ cx, cy, w, mustShow }) => {
    const box = ([dx, dy, a]) => ({ x: a === 'start' ? cx + dx : a === 'end' ? cx + dx - w : cx - w / 2, y: cy + dy - 10, w, h: LABEL_H, dx, dy, a });
    let best = null, bestCost = Infinity;
    for (const c of SPOTS.map(box)) {
      const k = cost(c) + misleading(c, cx, cy);
      if (k < bestCost - 1e-9) { best = c; bestCost = k; }
    }
    if (bestCost > DROP_COST && !mustShow) return null;
    boxes.push(best);
    return { x: cx + best.dx, y: cy + best.dy, anchor: best.a, box: best };
  });
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text != null) e.textContent = text;
  return e;
}

// Drawn at (about) its on-screen width, so the 11-px labels stay 11 px on a phone too.
export const chartWidth = (plot) => Math.round(Math.max(340, Math.min(640, plot.clientWidth || 600)));

// Draws the chart into the <svg> `plot`.
//   rows: the eval table's rows; baseRow: its baseline's row; tunedRows: its tuned picks' rows;
//   current: the row of the schedule in use when measured with the same settings, else null;
//   nowGflops: the compute of the schedule in use (null when unknown), nowName its text;
//   budget: the compute budget's GFLOPs (null: no line); fmt: number → text.
// `metric` names the quality measure (FID-emoji; frame-FID for a clip model), `unit` what a GFLOP is per.
export function renderChart(plot, { rows, baseRow, tunedRows = [], current, nowGflops, nowName, budget, fmt, metric = 'FID-emoji', unit = 'image' }) {
  const W = chartWidth(plot), H = W < 480 ? 300 : 280;
  const L = 46, R = 16, T = 12, B = 36;
  plot.dataset.drawnWidth = String(W);
  const gs = rows.map((r) => r.gflops_per_image).concat(nowGflops ? [nowGflops] : []);
  const fs = rows.map((r) => r.fid);
  const lx = (v) => Math.log10(v);
  const [x0, x1] = [lx(Math.min(...gs)) - 0.08, lx(Math.max(...gs)) + 0.08];
  const [y0, y1] = [lx(Math.min(...fs)) - 0.04, lx(Math.max(...fs)) + 0.04];
  const X = (g) => L + ((lx(g) - x0) / (x1 - x0)) * (W - L - R);
  const Y = (f) => T + (1 - (lx(f) - y0) / (y1 - y0)) * (H - T - B);
  plot.replaceChildren();
  plot.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const ticks = (lo, hi, vs) => vs.filter((v) => lx(v) >= lo && lx(v) <= hi);
  for (const v of ticks(x0, x1, [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500])) {
    plot.append(svg('line', { x1: X(v), x2: X(v), y1: T, y2: H - B, class: 'grid' }));
    plot.append(svg('text', { x: X(v), y: H - B + 14, class: 'tick', 'text-anchor': 'middle' }, String(v)));
  }
  for (const v of ticks(y0, y1, [1, 2, 5, 10, 15, 20, 30, 40, 50, 70, 100, 150, 200, 300, 500])) {
    plot.append(svg('line', { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: 'grid' }));
    plot.append(svg('text', { x: L - 6, y: Y(v) + 4, class: 'tick', 'text-anchor': 'end' }, String(v)));
  }
  plot.append(svg('text', { x: (L + W - R) / 2, y: H - 4, class: 'axis', 'text-anchor': 'middle' }, `GFLOPs per ${unit} (log) →`));
  plot.append(svg('text', { x: 12, y: (T + H - B) / 2, class: 'axis', 'text-anchor': 'middle', transform: `rotate(-90 12 ${(T + H - B) / 2})` }, `${metric} (log), lower is better`));
  // The quality–compute front (the best measured FID at each budget) as a staircase, and the
  // reader's budget as a line.
  const fr = front(rows);
  let d = '';
  fr.forEach((r, i) => {
    const x = X(r.gflops_per_image), y = Y(r.fid);
    d += i === 0 ? `M${x},${y}` : `V${y}`;
    d += `H${i + 1 < fr.length ? X(fr[i + 1].gflops_per_image) : W - R}`;
  });
  plot.append(svg('path', { d, class: 'front' }));
  if (budget != null) {
    const x = Math.min(W - R, Math.max(L, X(budget)));
    plot.append(svg('line', { x1: x, x2: x, y1: T, y2: H - B, class: 'budget-line' }));
  }
  if (nowGflops && !current) {
    const x = X(nowGflops);
    plot.append(svg('line', { x1: x, x2: x, y1: T, y2: H - B, class: 'now-line' }));
    const note = svg('text', { x: x + 4, y: T + 10, class: 'now-label' }, `${nowName}: not measured`);
    plot.append(note);
    if (x + 4 + note.getBBox().width > W - 2) { note.setAttribute('x', String(x - 4)); note.setAttribute('text-anchor', 'end'); }
  }
  // The baseline's label is placed first (the reference, at the right edge: it has the fewest
  // spots), then the current schedule's, then the others.
  const rank = (r) => (r === baseRow ? 2 : r === current ? 1 : 0);
  const order = [...rows].sort((a, b) => rank(b) - rank(a));
  const labels = [];
  const texts = [];
  for (const r of order) {
    const isBase = r === baseRow;
    // The baseline is named for what it is (its schedule is in the tooltip).
    const label = isBase ? 'MaskGIT' : r.schedule + (r.cache === 'off' ? ', no cache' : '');
    const [cx, cy] = [X(r.gflops_per_image), Y(r.fid)];
    const g = svg('g', { class: 'pt' + (isBase ? ' base' : '') + (tunedRows.includes(r) ? ' tuned' : '') + (r === current ? ' current' : ''), tabindex: 0, role: 'button', 'data-schedule': r.schedule, 'data-cache': r.cache });
    const vs = gapToBaseline(r, baseRow);
    const fidText = `${metric} ${r.fid.toFixed(1)}${vs ? ` (${vs.text} vs MaskGIT${vs.interval ? `, paired 95% ${vs.interval}` : ''})` : ''}`;
    g.append(svg('title', {}, `${isBase ? `MaskGIT ${r.schedule}${r.cache === 'off' ? ', no cache' : ''}` : label}: ${fidText}, ${fmt(r.gflops_per_image)} GFLOPs/${unit}${isBase ? '' : ` (${r.flops_ratio.toFixed(2)}× less than MaskGIT)`} — click to decode it`));
    if (r === current) g.append(svg('circle', { cx, cy, r: 9, class: 'ring' }));
    g.append(svg('circle', { cx, cy, r: 5 }));
    g.append(svg('circle', { cx, cy, r: 12, class: 'hit' }));
    // Anchored at its point first, so its real width can be measured.
    const text = svg('text', { x: cx, y: cy, class: 'lbl' }, label);
    g.append(text);
    plot.append(g);
    texts.push(text);
    labels.push({ cx, cy, w: text.getBBox().width + 2, mustShow: r === current || isBase });
  }
  const dots = rows.map((r) => [X(r.gflops_per_image), Y(r.fid)]);
  placeLabels(labels, dots, { left: L, right: W - 2, top: 0, bottom: H - B }).forEach((p, i) => {
    if (!p) { texts[i].remove(); return; }
    texts[i].setAttribute('x', String(p.x));
    texts[i].setAttribute('y', String(p.y));
    texts[i].setAttribute('text-anchor', p.anchor);
  });
}
