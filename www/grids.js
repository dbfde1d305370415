// The token grids: one canvas per image of a run, painted at the shown step (cells.js), and the
// header line that says how far the decode is.
import { paintCell, countStates } from './cells.js';
import { meanStepMs } from './stats.js';

const CELL_PX = 160;

// One canvas per image in `grid` (a class tag under each when the classes are mixed).
export function buildGrid(grid, { classes, config, tagClasses }) {
  grid.replaceChildren();
  if (!classes) return;
  for (const c of classes) {
    const cell = document.createElement('div');
    cell.className = 'cell';
    const cv = document.createElement('canvas');
    cv.width = CELL_PX;
    cv.height = CELL_PX;
    cell.append(cv);
    if (tagClasses) {
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = c < config.classes ? config.class_names[c] : 'unconditional';
      cell.append(tag);
    }
    grid.append(cell);
  }
}

// Paints `run` at step `cur` (1-based; 0: nothing decoded) into the canvases of `grid`.
// A finished image is shown clean: at the last step of a finished decode the token states are
// drawn only while `peek` (the pointer is over that grid, or the "states on finished images"
// box is on). Returns the token-state counts summed over the images.
export function paintGrid(grid, run, { cur, totalSteps, config, palette, peek }) {
  const finished = run.done && !run.error && cur === run.steps.length && cur === totalSteps;
  const overlay = !finished || peek;
  grid.dataset.overlay = overlay ? 'on' : 'off';
  const idx = cur - 1;
  const step = idx >= 0 ? run.steps[idx] : null;
  const imgs = step ? run.images.get(idx) : null;
  const totals = { masked: 0, now: 0, earlier: 0 };
  grid.querySelectorAll('canvas').forEach((cv, b) => {
    const ctx = cv.getContext('2d');
    ctx.clearRect(0, 0, CELL_PX, CELL_PX);
    paintCell(ctx, 0, 0, CELL_PX, {
      grid: config.grid, codebook: config.codebook, palette,
      step, image: imgs ? imgs[b] : null, b, overlay,
    });
    const c = countStates(step ? step.states[b] : null, config.grid[0] * config.grid[1]);
    totals.masked += c.masked; totals.now += c.now; totals.earlier += c.earlier;
  });
  return totals;
}

// The grid header says how far the decode is, with the time left once steps are slow enough
// to wait for (a software GPU or the CPU fallback: seconds per step).
//   waitsForMain: a baseline run that has not started because the main one decodes first.
export function renderProgress(label, bar, run, { totalSteps, waitingForView, withImages, waitsForMain }) {
  const T = totalSteps;
  if (!run) { label.textContent = ''; bar.parentElement.hidden = true; return; }
  const n = run.steps.length;
  let text, frac;
  if (run.error) { text = 'failed'; frac = 0; }
  else if (waitingForView) { text = 'starts when this is on screen'; frac = 0; }
  else if (!run.done) {
    const ms = meanStepMs(run);
    const left = ms != null ? ms * (T - n) : null;
    text = n === 0 ? (waitsForMain ? 'waits for your schedule' : 'decoding step 1…')
      : `decoding: step ${n} of ${T}` + (left != null && ms > 400 ? ` · about ${Math.max(1, Math.round(left / 1000))} s left` : '');
    frac = n / T;
  } else if (withImages && !run.images.has(n - 1)) { text = 'finishing the pictures…'; frac = 1; }
  else { text = `done in ${(run.trace.ms / 1000).toFixed(1)} s`; frac = 1; }
  label.textContent = text;
  bar.style.width = `${(100 * frac).toFixed(1)}%`;
  bar.parentElement.hidden = run.done && !!run.trace;
}
