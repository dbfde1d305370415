// The timeline: one column per decode step showing its sub-model (a bar as tall as its width),
// the rows it processes (the KV cache), its FLOPs next to the baseline's, a cache refresh, and
// once decoded the step's measured time next to the compared baseline's (FLOPs saved are not
// always time saved: a narrow step still pays each step's fixed costs).
// It is also the schedule's visual editor: drag a bar's height, or ↑ ↓ on the focused bar.
import { seqTokens } from './protocol.js';

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};

// What each column shows: the plan's steps (flops::PlannedStep) when there is a plan, else the
// decode's own steps, else just the widths.
export function timelineSteps({ plan, run, widths, config }) {
  if (plan) return plan.steps;
  if (run && run.steps.length) return run.steps;
  const rows = seqTokens(config) + 1;
  return widths.map((w, i) => ({ step: i + 1, width: w, width_name: config.width_names[w], refresh: true, rows, flops: 0, baseline_flops: 0 }));
}

// The timeline in element `tl`. Edits go to `onEdit(step index, width index, how)`, how =
// 'drag' while a bar is dragged (then `onDragEnd()` once released) or 'key'.
export function createTimeline(tl, { widthsNow, onEdit, onDragEnd }) {
  let focus = 0;     // the column that has the row's one tab stop
  let shown = null;  // what was rendered last: {config, steps, cur, decoded}

  function render(data) {
    shown = data;
    const { config, steps, cur, decoded } = data;
    const nW = config.widths.length;
    const seq = seqTokens(config) + 1;
    const maxFlops = Math.max(1, ...steps.map((s) => Math.max(s.flops || 0, s.baseline_flops || 0)));
    tl.replaceChildren();
    const axis = el('div', 'tl-axis');
    const levels = el('div', 'levels');
    config.width_names.forEach((n, i) => {
      const s = el('span', null, n);
      s.style.bottom = `${((i + 1) / nW) * 100}%`;
      levels.append(s);
    });
    axis.append(levels, el('div', null, 'rows'), el('div', null, 'FLOPs'), el('div', 'tms-label', 'ms'), el('div', null, 'step'));
    const cols = el('div', 'tl-cols');
    cols.id = 'tl-cols';
    const focusAt = Math.min(focus, steps.length - 1);
    steps.forEach((s, i) => {
      const name = config.width_names[s.width], width = config.widths[s.width];
      const col = el('div', 'tcol');
      col.dataset.step = String(i + 1);
      col.dataset.width = name;
      col.dataset.refresh = s.refresh ? '1' : '0';
      col.dataset.about = `step ${i + 1}: ${name} (width ${width})\n` +
        `${s.rows} of ${seq} rows processed${s.refresh ? ' (cache refresh)' : ''}` +
        (s.flops ? `\n${(s.flops / 1e6).toFixed(1)} MFLOPs per image (baseline ${(s.baseline_flops / 1e6).toFixed(1)})` : '');
      col.title = col.dataset.about;
      if (i + 1 === cur) col.classList.add('current');
      // Each bar is a vertical slider over the widths; one tab stop for the row (← → move along it).
      col.tabIndex = i === focusAt ? 0 : -1;
      col.setAttribute('role', 'slider');
      col.setAttribute('aria-orientation', 'vertical');
      col.setAttribute('aria-label', `Step ${i + 1} sub-model`);
      col.setAttribute('aria-valuemin', '0');
      col.setAttribute('aria-valuemax', String(nW - 1));
      col.setAttribute('aria-valuenow', String(s.width));
      col.setAttribute('aria-valuetext', `${name}, width ${width}${s.refresh ? ', cache refresh' : ''}`);
      const w = el('div', 'twidth');
      const bar = el('div', 'tbar', name);
      bar.style.height = `${((s.width + 1) / nW) * 100}%`;
      bar.style.background = `var(--w${Math.min(s.width, 5)})`;
      bar.style.color = `var(--w${Math.min(s.width, 5)}-ink)`;
      w.append(bar);
      if (s.refresh) w.append(el('span', 'trefresh', '↻'));
      const rows = el('div', 'trows');
      const rf = el('div', 'fill');
      rf.style.width = `${(s.rows / seq) * 76}%`;
      rows.append(rf);
      const fl = el('div', 'tflops');
      if (s.baseline_flops) {
        const b = el('div', 'base');
        b.style.height = `calc(${(s.baseline_flops / maxFlops) * 100}% - 4px)`;
        b.style.top = 'auto';
        fl.append(b);
      }
      const ff = el('div', 'fill');
      ff.style.height = `${((s.flops || 0) / maxFlops) * 100}%`;
      fl.append(ff);
      const ms = el('div', 'tms');
      ms.append(el('div', 'base'), el('div', 'fill'));
      col.append(w, rows, fl, ms, el('div', 'tstep', String(i + 1)));
      if (i < decoded) col.classList.add('done-step');
      cols.append(col);
    });
    tl.append(axis, cols);
    tl.dataset.switches = String(steps.reduce((n, s, i) => n + (i > 0 && s.width !== steps[i - 1].width ? 1 : 0), 0));
    tl.dataset.widths = steps.map((s) => config.width_names[s.width]).join(',');
    if (lastTimes) times(...lastTimes, true);
  }

  // The measured time of each decoded step (`measured[i]` ms; `baseline`: the compared run's, or
  // null), as bars on one scale; a step not decoded yet shows none. The page calls this on every
  // render: the columns are only touched when a time arrived (or they were rebuilt).
  let lastTimes = null, lastKey = '';
  function times(measured, baseline, rebuilt = false) {
    const key = `${measured.join()}|${baseline ? baseline.join() : '-'}`;
    if (key === lastKey && !rebuilt) return;
    lastKey = key;
    lastTimes = [measured, baseline];
    const cols = [...tl.querySelectorAll('#tl-cols .tcol')];
    const most = Math.max(1e-9, ...measured, ...(baseline || []));
    const pct = (v) => (v == null ? '0%' : `${(v / most) * 100}%`);
    cols.forEach((c, i) => {
      const m = measured[i], b = baseline ? baseline[i] : null;
      c.querySelector('.tms .fill').style.height = pct(m);
      const base = c.querySelector('.tms .base');
      base.hidden = b == null;
      base.style.height = `calc(${pct(b)} - 2px)`;
      c.dataset.ms = m == null ? '' : m.toFixed(1);
      c.title = c.dataset.about + (m == null ? '' : `\n${m.toFixed(1)} ms measured${b == null ? '' : ` (baseline ${b.toFixed(1)} ms)`}`);
    });
  }

  // Marks the shown step and the decoded ones without rebuilding the columns.
  function mark(cur, decoded) {
    tl.querySelectorAll('#tl-cols .tcol').forEach((c, i) => {
      c.classList.toggle('current', i + 1 === cur);
      c.classList.toggle('done-step', i < decoded);
    });
  }

  // Drag editing: the pointer's height over a column picks that step's width.
  let dragging = false;
  const apply = (ev) => {
    const cols = tl.querySelector('#tl-cols');
    if (!cols || !shown) return;
    const list = [...cols.children];
    const r = cols.getBoundingClientRect();
    const x = Math.min(Math.max(ev.clientX, r.left), r.right - 1);
    const idx = Math.min(list.length - 1, Math.max(0, Math.floor(((x - r.left) / r.width) * list.length)));
    const area = list[idx].querySelector('.twidth').getBoundingClientRect();
    const nW = shown.config.widths.length;
    const frac = 1 - (ev.clientY - area.top) / area.height;
    const level = Math.min(nW - 1, Math.max(0, Math.ceil(frac * nW) - 1));
    if (widthsNow()[idx] !== level) onEdit(idx, level, 'drag');
  };
  tl.addEventListener('pointerdown', (ev) => {
    if (!ev.target.closest('.twidth') || !shown) return;
    dragging = true;
    tl.setPointerCapture(ev.pointerId);
    apply(ev);
    ev.preventDefault();
  });
  tl.addEventListener('pointermove', (ev) => { if (dragging) apply(ev); });
  const end = () => {
    if (!dragging) return;
    dragging = false;
    onDragEnd();
  };
  tl.addEventListener('pointerup', end);
  tl.addEventListener('pointercancel', end);
  // Keyboard: ↑ ↓ (PageUp/PageDown) change the focused step's width, ← → Home End move.
  tl.addEventListener('keydown', (ev) => {
    const col = ev.target.closest('.tcol');
    if (!col || !shown) return;
    const widths = widthsNow();
    const idx = Number(col.dataset.step) - 1, n = widths.length, nW = shown.config.widths.length;
    const move = { ArrowLeft: idx - 1, ArrowRight: idx + 1, Home: 0, End: n - 1 }[ev.key];
    const delta = { ArrowUp: 1, PageUp: 1, ArrowDown: -1, PageDown: -1 }[ev.key];
    if (move == null && delta == null) return;
    ev.preventDefault();
    if (move != null) {
      focus = Math.max(0, Math.min(n - 1, move));
    } else {
      const level = Math.max(0, Math.min(nW - 1, widths[idx] + delta));
      if (level === widths[idx]) return;
      focus = idx;
      onEdit(idx, level, 'key'); // re-renders through the page
    }
    render(shown);
    tl.querySelector('#tl-cols').children[focus].focus();
  });

  return { render, mark, times };
}
