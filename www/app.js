// MaGNeTS page controller: state (URL hash), engine worker, grid + timeline rendering,
// schedule editor, transport, stats, compare and embed modes. Plain ES modules, no framework.
import { DEFAULTS, parseHash, formatHash, classesFor } from './state.js';
import { paintCell, countStates } from './cells.js';
import { wireExports } from './export.js';
import { bestUnder, front, budgetScale, renderBudgetControl } from './budget.js';

const $ = (id) => document.getElementById(id);
const IMAGES = 16;
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};

// ---------------------------------------------------------------- app state
const app = {
  state: null,            // parsed URL state (see state.js)
  info: null,             // engine info: {kind, describe, adapter, config, tokenizer, image_size}
  palette: null,          // {codebook, tokenizer_sha256, rgb}: preview colour per code (loadPalette)
  evalTable: null,        // measured FID-emoji per schedule for the loaded model (loadEvalTable)
  bundle: null,           // 'webgpu' | 'cpu'
  config: null,
  planner: null,          // the WebGPU bundle's pure functions (plan, normalize_schedule), main thread
  schedule: [],           // width index per step (what the editor shows)
  plan: null,             // flops::FlopsSummary for the current schedule
  runs: {},               // id -> {kind, request, steps[], trace, images: Map(stepIndex -> ImageData[]), done, error}
  main: null, base: null, // current run ids
  cur: 0,                 // displayed step, 0 = nothing decoded yet
  follow: true,           // follow the live decode
  playing: false,
  metrics: { start: performance.now() },
  problems: [],
  nextId: 1,
};
window.magnets = app; // test + debugging hook
// Test hook: destroys the engine's GPU device as a driver reset would (recovery test).
app.simulateDeviceLoss = () => worker.postMessage({ type: 'simulate-device-loss' });

function setStatus(s) { document.body.dataset.status = s; }
setStatus('loading');

// ---------------------------------------------------------------- messages
function showBanner(lines) {
  const b = $('banner');
  if (!lines || !lines.length) { b.hidden = true; b.textContent = ''; return; }
  b.textContent = lines.join('\n');
  b.hidden = false;
}
function showNotice(text) {
  const n = $('notice');
  n.hidden = !text;
  n.textContent = text || '';
}
function reportProblems() {
  showBanner(app.problems.length ? ['Some settings in the link could not be used:', ...app.problems.map((p) => '• ' + p)] : []);
}
function fatal(message) {
  setStatus('error');
  $('engine-badge').textContent = 'no engine';
  $('engine-badge').className = 'badge err';
  $('loading').classList.add('done');
  showBanner([...(app.problems.length ? ['Some settings in the link could not be used:', ...app.problems.map((p) => '• ' + p), ''] : []), 'The demo could not start: ' + message]);
  document.body.classList.add('failed');
  $('failure').hidden = false;
  $('failure-text').textContent = /download|HTTP/.test(message)
    ? 'The model file could not be downloaded. Check the connection, or that the site ships models/ next to this page.'
    : /weights file|tokenizer|config/i.test(message)
      ? 'The model file is damaged or does not match this page. Reloading fetches it again.'
      : 'This browser could not run the engine (it needs WebAssembly; WebGPU is optional).';
  $('failure-reset').href = location.pathname + location.search;
}

// ---------------------------------------------------------------- planner (main thread)
async function loadPlanner() {
  // Same file as the worker's WebGPU bundle (one download); it only plans, no GPU needed.
  for (const path of ['./pkg/magnets.js', './pkg-fallback/magnets.js']) {
    try {
      const mod = await import(path);
      await mod.default();
      app.planner = mod;
      return;
    } catch (e) {
      app.planner = null;
    }
  }
}

// ---------------------------------------------------------------- worker
let worker = null;
function startWorker() {
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = (ev) => onWorkerMessage(ev.data);
  worker.onerror = (ev) => fatal('the engine worker failed to start' + (ev.message ? ': ' + ev.message : ''));
}

async function modelUrls() {
  // models/manifest.json (written by scripts/build-web.sh) versions the files so the Cache API
  // never serves a stale model after an update.
  let manifest = null;
  try {
    const r = await fetch('models/manifest.json', { cache: 'no-cache' });
    if (r.ok) manifest = await r.json();
  } catch (_) { manifest = null; }
  app.manifest = manifest;
  const version = (path) => {
    const entry = manifestEntry(path);
    return entry && entry.sha256 ? `${path}?v=${entry.sha256.slice(0, 16)}` : path;
  };
  return { weights: version(app.state.w), tokenizer: app.state.tok ? version(app.state.tok) : null };
}

// The tokenizer's typical colour per code (`magnets web-assets`, staged next to the tokenizer as
// NAME.palette.json). Until a step's pixels are decoded, which on a software adapter or the CPU
// fallback takes the whole decode, its tokens are painted with these colours: a coarse emoji
// instead of noise. Missing or not made for this tokenizer: random colours per code, as before.
// models/manifest.json's entry {sha256, bytes, random} for a models/ path, or undefined.
const manifestEntry = (path) => app.manifest && app.manifest.files && app.manifest.files[path.replace(/^models\//, '')];

// Measured quality of some schedules on the shipped model (scripts/eval-table.mjs writes
// NAME.eval.json next to NAME.safetensors): shown with the compute of the schedule in use, when it
// was measured with the same settings. Only for the exact weights it was measured on (sha256).
async function loadEvalTable() {
  const w = app.state.w;
  if (!/\.safetensors$/.test(w)) return;
  const entry = manifestEntry(w);
  if (!entry || !entry.sha256) return;
  try {
    const r = await fetch(w.replace(/\.safetensors$/, '.eval.json'), { cache: 'no-cache' });
    if (!r.ok) return;
    const t = await r.json();
    if (t.model_sha256 !== entry.sha256 || !Array.isArray(t.rows) || !t.settings || !t.baseline) return;
    app.evalTable = t;
  } catch (_) { /* optional */ }
}

// The eval table's row for (schedule, cache) — e.g. its `baseline` or `tuned` entry — or undefined.
const evalRow = (t, { schedule, cache }) => t.rows.find((r) => r.schedule === schedule && r.cache === cache);

// "Tuned": the schedule the eval table names as the best measured trade-off for these exact
// weights (scripts/eval-table.mjs), shown only when that row was measured.
function addTunedPreset() {
  const group = document.querySelector('.presets:not(.constant)');
  group.querySelector('[data-tuned]')?.remove();
  const t = app.evalTable;
  const tuned = t && t.tuned;
  if (!tuned || typeof tuned.schedule !== 'string') return;
  const row = evalRow(t, tuned);
  if (!row || !(row.flops_ratio > 0)) return;
  const b = el('button', null, 'Tuned');
  b.dataset.preset = tuned.schedule;
  b.dataset.cache = tuned.cache;
  b.dataset.tuned = '1';
  b.title = `${tuned.schedule}: ${row.flops_ratio.toFixed(1)}× less compute than the baseline; ${tuned.chosen || 'tuned for this model'}`;
  group.append(b);
}

// The measured row for the current schedule and settings, with the baseline's, or null.
function measuredQuality() {
  const t = app.evalTable;
  if (!t || !app.config || !app.schedule.length) return null;
  if (!measuredSettings()) return null;
  const row = evalRow(t, { schedule: scheduleString(app.schedule), cache: cacheString() });
  const base = evalRow(t, t.baseline);
  return row && base ? { row, base, table: t } : null;
}

async function loadPalette() {
  const tok = app.state.tok;
  if (!tok || !/\.safetensors$/.test(tok)) return;
  try {
    const r = await fetch(tok.replace(/\.safetensors$/, '.palette.json'), { cache: 'no-cache' });
    if (!r.ok) return;
    const p = await r.json();
    const entry = manifestEntry(tok);
    if (entry && entry.sha256 && p.tokenizer_sha256 !== entry.sha256) return;
    if (!Number.isInteger(p.codebook) || !Array.isArray(p.rgb) || p.rgb.length !== 3 * p.codebook) return;
    app.palette = p;
  } catch (_) { /* preview colours are optional */ }
}

function onWorkerMessage(m) {
  switch (m.type) {
    case 'status': $('loading-text').textContent = m.text; break;
    case 'progress': {
      const pct = m.total ? Math.min(100, (100 * m.loaded) / m.total) : 0;
      if (m.cached) app.metrics.cached = (app.metrics.cached || []).concat(m.what);
      $('progress-bar').style.width = pct.toFixed(1) + '%';
      const mb = (x) => (x / 1048576).toFixed(2);
      $('loading-text').textContent = m.cached
        ? `Loaded the ${m.what} from the cache (${mb(m.total)} MB)`
        : `Downloading the ${m.what}… ${mb(m.loaded)}${m.total ? ' / ' + mb(m.total) : ''} MB`;
      break;
    }
    case 'ready': onReady(m); break;
    case 'recovered': onRecovered(m); break;
    case 'fatal': fatal(m.message); break;
    case 'step': onStep(m.id, m.step); break;
    case 'done': onDone(m.id, m.trace); break;
    case 'images': onImages(m); break;
    case 'images-done': {
      const r = app.runs[m.id];
      if (r) { r.imagesDone = true; maybeFinished(); }
      break;
    }
    case 'error': {
      const r = app.runs[m.id];
      if (r) { r.error = m.message; r.done = true; r.imagesDone = true; }
      showBanner([(m.images ? '' : 'Generation failed: ') + m.message]);
      setStatus('error-run');
      render();
      break;
    }
  }
}

// ---------------------------------------------------------------- ready: config + controls
function onReady(m) {
  app.info = m.info;
  app.bundle = m.bundle;
  app.config = m.info.config;
  app.metrics.readyMs = performance.now() - app.metrics.start;
  $('loading').classList.add('done');
  setEngineBadge(m.bundle);
  const notes = [];
  if (m.bundle !== 'webgpu') notes.push(fallbackSentence(m.fallback));
  if (m.note) notes.push(m.note);
  if (notes.length) showNotice(notes.join(' '));
  const mb = $('model-badge');
  const entry = manifestEntry(app.state.w);
  mb.textContent = entry && entry.random ? 'untrained random weights' : `${app.config.grid[0]}×${app.config.grid[1]} tokens · ${app.config.codebook} codes`;
  mb.hidden = false;
  if (!m.info.tokenizer && !m.note) showNotice(($('notice').textContent ? $('notice').textContent + ' ' : '') + 'No tokenizer loaded: tokens are shown as colours instead of pixels.');
  buildControls();
  applyStateToControls();
  generate();
}

// The worker rebuilt the engine after the GPU device was lost: say so, and run the interrupted
// generation again (the state and the URL were never touched).
function onRecovered(m) {
  app.info = m.info;
  app.bundle = m.bundle;
  setEngineBadge(m.bundle);
  app.metrics.recoveries = (app.metrics.recoveries || 0) + 1;
  showNotice(m.note);
  generate();
}

// Why the CPU engine runs, from what the worker detected ({code, detail}; worker.js). The CPU path
// decodes the same tokens; on a software GPU adapter it is the quicker of the two.
function fallbackSentence(f) {
  const same = 'runs the same model on the CPU (WebAssembly): the same decode, the same images.';
  const code = f && f.code;
  const detail = f && f.detail ? ` (${f.detail})` : '';
  if (code === 'no-webgpu') return `This browser does not offer WebGPU, so the demo ${same}`;
  if (code === 'no-adapter') return `This browser supports WebGPU but found no GPU adapter to use, so the demo ${same}`;
  if (code === 'adapter-error') return `Asking for a WebGPU adapter failed${detail}, so the demo ${same}`;
  if (code === 'engine-failed') return `WebGPU is available, but the GPU engine could not start on it${detail}, so the demo ${same}`;
  if (code === 'requested') return `The link asks for the CPU engine (cpu=1): the demo ${same}`;
  return `The demo ${same}`;
}

function setEngineBadge(bundle) {
  const badge = $('engine-badge');
  if (bundle === 'webgpu') {
    badge.textContent = 'WebGPU';
    badge.className = 'badge';
  } else {
    badge.textContent = 'CPU fallback';
    badge.className = 'badge cpu';
  }
}

function buildControls() {
  const c = app.config;
  const sel = $('class');
  sel.replaceChildren();
  sel.append(new Option('mix (one of each)', 'mix'));
  c.class_names.forEach((n, i) => sel.append(new Option(n, String(i))));
  sel.append(new Option('unconditional', 'null'));
  const cp = $('const-presets');
  cp.replaceChildren();
  c.width_names.forEach((n) => {
    const b = el('button', null, n + ' only');
    b.dataset.preset = 'const:' + n;
    b.dataset.cache = 'on';
    b.title = `constant ${n} (width ${c.widths[c.width_names.indexOf(n)]})`;
    cp.append(b);
  });
  addTunedPreset();
  $('steps').max = String(c.grid[0] * c.grid[1]);
  const leg = $('timeline-legend');
  leg.replaceChildren();
  c.width_names.forEach((n, i) => {
    const s = el('span');
    const sw = el('i', 'sw');
    sw.style.background = `var(--w${Math.min(i, 5)})`;
    s.append(sw, `${n} = width ${c.widths[i]}`);
    leg.append(s);
  });
  const extra = [['↻', 'cache refresh (all rows)'], ['▬', 'rows processed'], ['▮', 'FLOPs (dashed: baseline)']];
  for (const [sym, text] of extra) { const s = el('span', 'extra', `${sym} ${text}`); leg.append(s); }
}

// Resolves state.schedule (+ steps) against the model; a bad value → problem + default.
function resolveSchedule() {
  const s = app.state;
  const tryOne = (text, steps) => {
    if (app.planner) return app.planner.normalize_schedule(JSON.stringify(app.config), text, steps);
    return text; // no planner: the worker validates
  };
  try {
    const canon = tryOne(s.schedule, s.steps);
    app.schedule = parseScheduleString(canon);
    if (!isPreset(s.schedule)) s.steps = app.schedule.length;
  } catch (e) {
    app.problems.push(`schedule “${s.schedule}” with ${s.steps} steps: ${e.message || e}; using the MaGNeTS preset with ${DEFAULTS.steps} steps`);
    s.schedule = DEFAULTS.schedule;
    s.steps = DEFAULTS.steps;
    app.schedule = parseScheduleString(tryOne(s.schedule, s.steps));
    reportProblems();
  }
}
const isPreset = (t) => /^(baseline|maskgit|magnets|reverse|const:[A-Za-z]+)$/.test(t);

function parseScheduleString(text) {
  const names = app.config.width_names;
  const out = [];
  const re = /([A-Za-z]+)(\d+)/g;
  let m;
  while ((m = re.exec(text))) {
    const w = names.findIndex((n) => n.toLowerCase() === m[1].toLowerCase());
    for (let i = 0; i < Number(m[2]); i++) out.push(w);
  }
  return out;
}
function scheduleString(steps) {
  const names = app.config.width_names;
  let out = '';
  for (let i = 0; i < steps.length;) {
    let j = i;
    while (j < steps.length && steps[j] === steps[i]) j++;
    out += names[steps[i]] + (j - i);
    i = j;
  }
  return out;
}

function validateClass() {
  const s = app.state;
  if (s.cls !== 'mix' && s.cls !== 'null' && Number(s.cls) >= app.config.classes) {
    app.problems.push(`class ${s.cls} does not exist (this model has ${app.config.classes}); using mix`);
    s.cls = 'mix';
    reportProblems();
  }
}

function applyStateToControls() {
  const s = app.state;
  resolveSchedule();
  validateClass();
  $('schedule-text').value = scheduleString(app.schedule);
  $('schedule-text').classList.remove('bad');
  $('schedule-help').classList.remove('bad');
  $('schedule-help').textContent = 'runs of width names with step counts, e.g. S3M3L3XL3';
  $('steps').value = String(app.schedule.length);
  const cacheOn = s.cache !== 'off';
  $('cache-on').checked = cacheOn;
  $('refresh').value = s.cache.startsWith('on:') ? s.cache.slice(3) : '0';
  $('refresh').disabled = !cacheOn;
  $('class').value = s.cls;
  $('seed').value = String(s.seed);
  $('temp').value = String(s.temp);
  $('tau').value = String(s.tau);
  $('g').value = String(s.g);
  $('compare').checked = s.cmp;
  $('speed').value = String(s.speed);
  if (![...$('speed').options].some((o) => o.value === String(s.speed))) $('speed').append(new Option(s.speed + '×', String(s.speed), true, true));
  document.querySelectorAll('.presets button[data-preset]').forEach((b) => {
    const on = b.dataset.preset === s.schedule && (!b.dataset.cache || b.dataset.cache === s.cache);
    b.classList.toggle('active', on);
    b.setAttribute('aria-pressed', String(on));
  });
  $('watch-steps').textContent = String(app.schedule.length);
  updatePlan();
  writeHash();
}

function writeHash() {
  const h = formatHash(app.state);
  const url = location.pathname + location.search + (h ? '#' + h : '');
  if (location.href.endsWith(url) && (location.hash || '') === (h ? '#' + h : '')) return;
  app.ignoreHash = true;
  history.replaceState(null, '', url);
  app.ignoreHash = false;
  updateEmbedSnippet();
}

const EMBED_HEIGHT = 920;
function updateEmbedSnippet() {
  const base = location.href.split('#')[0];
  const h = formatHash({ ...app.state, embed: true });
  const src = `${base}#${h}`;
  // Fluid width up to the embed's design width; the height fits the player at any width (its
  // grid stops growing at 340 px), so a 390-px phone post neither scrolls sideways nor cuts it.
  $('embed-code').value = `<iframe src="${src}" width="100%" height="${EMBED_HEIGHT}" style="max-width:560px;border:0;border-radius:12px" loading="lazy" title="MaGNeTS: a nested transformer decoding emoji, live"></iframe>`;
  const open = $('embed-open');
  open.href = `${base}#${formatHash({ ...app.state, embed: false })}`;
}

// ---------------------------------------------------------------- plan + stats
function cacheString() {
  return app.state.cache;
}
function updatePlan() {
  app.plan = null;
  if (app.planner && app.schedule.length) {
    try {
      app.plan = JSON.parse(app.planner.plan(JSON.stringify(app.config), scheduleString(app.schedule), cacheString(), app.state.g > 0));
    } catch (e) {
      app.plan = null;
    }
  }
  renderTimeline();
  renderStats();
  renderTradeoff();
}

// ---------------------------------------------------------------- quality vs compute
// The eval table's measured schedules as FID-emoji against GFLOPs per image, both on log
// scales: the paper's trade-off, measured on this model. A point loads its schedule; the
// current schedule is ringed when measured, else drawn as a dashed line at its compute.
const SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text != null) e.textContent = text;
  return e;
}
// Drawn at (about) its on-screen width, so the 11-px labels stay 11 px on a phone too.
const tradeoffWidth = (plot) => Math.round(Math.max(340, Math.min(640, plot.clientWidth || 600)));
function renderTradeoff() {
  const card = $('tradeoff');
  const t = app.evalTable;
  if (!t || !app.config || !t.rows.length) { card.hidden = true; return; }
  card.hidden = false;
  const plot = $('tradeoff-plot');
  const W = tradeoffWidth(plot), H = W < 480 ? 300 : 280;
  const L = 46, R = 16, T = 12, B = 36;
  plot.dataset.drawnWidth = String(W);
  const q = measuredQuality();
  const current = q ? q.row : null;
  const gNow = app.plan ? app.plan.total_gflops : null;
  const gs = t.rows.map((r) => r.gflops_per_image).concat(gNow ? [gNow] : []);
  const fs = t.rows.map((r) => r.fid);
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
  plot.append(svg('text', { x: (L + W - R) / 2, y: H - 4, class: 'axis', 'text-anchor': 'middle' }, 'GFLOPs per image (log) →'));
  plot.append(svg('text', { x: 12, y: (T + H - B) / 2, class: 'axis', 'text-anchor': 'middle', transform: `rotate(-90 12 ${(T + H - B) / 2})` }, 'FID-emoji (log), lower is better'));
  // The quality–compute front (the best measured FID at each budget) as a staircase, and the
  // reader's budget as a line.
  const fr = front(t.rows);
  let d = '';
  fr.forEach((r, i) => {
    const x = X(r.gflops_per_image), y = Y(r.fid);
    d += i === 0 ? `M${x},${y}` : `V${y}`;
    d += `H${i + 1 < fr.length ? X(fr[i + 1].gflops_per_image) : W - R}`;
  });
  plot.append(svg('path', { d, class: 'front' }));
  if (app.budget != null) {
    const x = Math.min(W - R, Math.max(L, X(app.budget)));
    plot.append(svg('line', { x1: x, x2: x, y1: T, y2: H - B, class: 'budget-line' }));
  }
  if (gNow && !current) {
    const x = X(gNow);
    plot.append(svg('line', { x1: x, x2: x, y1: T, y2: H - B, class: 'now-line' }));
    const note = svg('text', { x: x + 4, y: T + 10, class: 'now-label' }, `${scheduleString(app.schedule)}: not measured`);
    plot.append(note);
    if (x + 4 + note.getBBox().width > W - 2) { note.setAttribute('x', String(x - 4)); note.setAttribute('text-anchor', 'end'); }
  }
  // Labels go where they overlap points and earlier labels least (ten candidate spots).
  const dots = t.rows.map((r) => [X(r.gflops_per_image), Y(r.fid)]);
  const boxes = [];
  const overlap = (a, b) => Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x)) * Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const pad = (o) => ({ x: o.x - 4, y: o.y - 1, w: o.w + 8, h: o.h + 2 }); // labels keep a gap
  const cost = (b) => boxes.reduce((c, o) => c + 3 * overlap(b, pad(o)), 0)
    + dots.reduce((c, [cx, cy]) => c + overlap(b, { x: cx - 6, y: cy - 6, w: 12, h: 12 }), 0)
    + 50 * (Math.max(0, L - b.x) + Math.max(0, b.x + b.w - (W - 2)) + Math.max(0, -b.y) + Math.max(0, b.y + b.h - (H - B)));
  // A label nearer to another point than to its own would name the wrong one.
  const misleading = (b, cx, cy) => {
    const mx = b.x + b.w / 2, my = b.y + b.h / 2;
    const own = Math.hypot(Math.max(Math.abs(mx - cx) - b.w / 2, 0), Math.max(Math.abs(my - cy) - b.h / 2, 0));
    return dots.some(([px, py]) => (px !== cx || py !== cy)
      && Math.hypot(Math.max(Math.abs(mx - px) - b.w / 2, 0), Math.max(Math.abs(my - py) - b.h / 2, 0)) < own) ? 500 : 0;
  };
  // `text` is already in the plot (anchored at its point), so its real width can be measured.
  const place = (cx, cy, text, mustShow) => {
    const w = text.getBBox().width + 2, h = 12;
    const spots = [[8, -6, 'start'], [8, 14, 'start'], [-8, -6, 'end'], [-8, 14, 'end'], [0, -11, 'middle'], [0, 20, 'middle'],
      [8, -18, 'start'], [-8, -18, 'end'], [8, 26, 'start'], [-8, 26, 'end']];
    const box = ([dx, dy, a]) => ({ x: a === 'start' ? cx + dx : a === 'end' ? cx + dx - w : cx - w / 2, y: cy + dy - 10, w, h, dx, dy, a });
    let best = null, bestCost = Infinity;
    for (const c of spots.map(box)) {
      const k = cost(c) + misleading(c, cx, cy);
      if (k < bestCost - 1e-9) { best = c; bestCost = k; }
    }
    // On a small plot a label that only fits over others is left out (the point keeps its
    // tooltip, and a click rings and labels it); the current schedule's and the baseline's
    // are always drawn.
    if (bestCost > 150 && !mustShow) { text.remove(); return; }
    boxes.push(best);
    text.setAttribute('x', String(cx + best.dx));
    text.setAttribute('y', String(cy + best.dy));
    text.setAttribute('text-anchor', best.a);
  };
  // The baseline's label is placed first (the reference, at the right edge: it has the fewest
  // spots), then the current schedule's, then the others.
  const baseRow = evalRow(t, t.baseline);
  const tunedRow = t.tuned ? evalRow(t, t.tuned) : undefined;
  const rank = (r) => (r === baseRow ? 2 : r === current ? 1 : 0);
  const order = [...t.rows].sort((a, b) => rank(b) - rank(a));
  for (const r of order) {
    const isBase = r === baseRow;
    const isTuned = r === tunedRow;
    // The baseline is named for what it is (its schedule is in the tooltip).
    const label = isBase ? 'MaskGIT' : r.schedule + (r.cache === 'off' ? ', no cache' : '');
    const [cx, cy] = [X(r.gflops_per_image), Y(r.fid)];
    const g = svg('g', { class: 'pt' + (isBase ? ' base' : '') + (isTuned ? ' tuned' : '') + (r === current ? ' current' : ''), tabindex: 0, role: 'button', 'data-schedule': r.schedule, 'data-cache': r.cache });
    g.append(svg('title', {}, `${isBase ? `MaskGIT ${r.schedule}${r.cache === 'off' ? ', no cache' : ''}` : label}: FID-emoji ${r.fid.toFixed(1)}, ${fmt3(r.gflops_per_image)} GFLOPs/image (${r.flops_ratio.toFixed(2)}× less than MaskGIT) — click to decode it`));
    if (r === current) g.append(svg('circle', { cx, cy, r: 9, class: 'ring' }));
    g.append(svg('circle', { cx, cy, r: 5 }));
    g.append(svg('circle', { cx, cy, r: 12, class: 'hit' }));
    const text = svg('text', { x: cx, y: cy, class: 'lbl' }, label);
    g.append(text);
    plot.append(g);
    place(cx, cy, text, r === current || isBase);
  }
  $('tradeoff-note').textContent = `${t.settings.samples.toLocaleString('en-US')} samples per point, seed ${t.settings.seed}, `
    + `τ ${t.settings.tau}, temperature ${t.settings.temperature}, guidance ${t.settings.guidance}`
    + (measuredSettings() ? '' : ' — the current sampling settings differ, so no point is ringed')
    + '; the staircase is the best measured FID at each compute';
  renderBudget();
}
function measuredSettings() {
  const t = app.evalTable, s = app.state;
  return t && s.temp === t.settings.temperature && s.tau === t.settings.tau && s.g === t.settings.guidance;
}

const fmt3 = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
function meanStepMs(run) {
  if (!run || !run.steps.length) return null;
  // The first step also uploads and warms up; report the mean of the others when there are any.
  const ms = run.steps.map((s) => s.ms);
  const rest = ms.length > 1 ? ms.slice(1) : ms;
  return rest.reduce((a, b) => a + b, 0) / rest.length;
}
function renderStats() {
  const plan = app.plan;
  const main = app.runs[app.main];
  let gflops = null, ratio = null;
  if (plan) { gflops = plan.total_gflops; ratio = plan.ratio; }
  else if (main && main.trace) { gflops = main.trace.total_flops / 1e9; ratio = main.trace.baseline_flops / main.trace.total_flops; }
  $('st-gflops').textContent = gflops == null ? '–' : fmt3(gflops);
  $('st-ratio').textContent = ratio == null ? '–' : ratio.toFixed(2) + '×';
  const mm = meanStepMs(main);
  const bm = meanStepMs(app.runs[app.base]);
  const ms = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  $('st-ms').textContent = mm == null ? '–' : (bm == null ? ms(mm) : `${ms(mm)} vs ${ms(bm)}`);
  $('st-ms').title = bm == null ? 'mean decode time per step (after the first)' : 'this schedule vs the baseline';
  const q = measuredQuality();
  const fidEl = $('st-fid'), fidSub = $('st-fid-sub');
  if (q) {
    const rel = 100 * (q.row.fid / q.base.fid - 1);
    const same = q.row === q.base;
    const pct = Math.round(rel);
    fidEl.textContent = same ? 'baseline' : pct === 0 ? '±0%' : `${pct > 0 ? '+' : '−'}${Math.abs(pct)}%`;
    fidSub.textContent = same ? `${q.row.fid.toFixed(1)}` : `${q.row.fid.toFixed(1)} vs ${q.base.fid.toFixed(1)}`;
    fidEl.title = `FID-emoji (lower is better) of ${q.table.settings.samples.toLocaleString('en-US')} class-balanced samples, `
      + `seed ${q.table.settings.seed}${same ? '' : `; MaskGIT baseline ${q.base.schedule} (cache ${q.base.cache}): ${q.base.fid.toFixed(1)}`}`
      + `\n${q.table.command}`;
    fidEl.classList.remove('small');
  } else {
    fidSub.textContent = '';
    fidEl.textContent = app.evalTable ? 'not measured' : '–';
    fidEl.title = app.evalTable ? 'measured for the presets and a few schedules at the default sampling settings; `magnets eval` measures any' : '';
    fidEl.classList.toggle('small', !!app.evalTable);
  }
  $('st-device').textContent = app.info ? `${app.info.adapter || app.info.describe}` : '–';
  $('st-device').title = app.info ? `${app.info.describe}\nimages decoded on: ${app.info.images}` : '';
  const sub = (run, el) => {
    if (!run) { el.textContent = ''; return; }
    const g = run.trace ? run.trace.total_flops / 1e9 : null;
    const ms = meanStepMs(run);
    el.textContent = [run.schedule, g != null ? fmt3(g) + ' GFLOPs' : null, ms != null ? (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)) + ' ms/step' : null].filter(Boolean).join(' · ');
  };
  sub(main, $('main-sub'));
  sub(app.runs[app.base], $('base-sub'));
}

// ---------------------------------------------------------------- timeline
function timelineSteps() {
  if (app.plan) return app.plan.steps;
  const main = app.runs[app.main];
  if (main && main.steps.length) return main.steps;
  return app.schedule.map((w, i) => ({ step: i + 1, width: w, width_name: app.config.width_names[w], refresh: true, rows: app.config.grid[0] * app.config.grid[1] + 1, flops: 0, baseline_flops: 0 }));
}

function renderTimeline() {
  const tl = $('timeline');
  if (!app.config) return;
  const steps = timelineSteps();
  const nW = app.config.widths.length;
  const seq = app.config.grid[0] * app.config.grid[1] + 1;
  const maxFlops = Math.max(1, ...steps.map((s) => Math.max(s.flops || 0, s.baseline_flops || 0)));
  tl.replaceChildren();
  const axis = el('div', 'tl-axis');
  const levels = el('div', 'levels');
  app.config.width_names.forEach((n, i) => {
    const s = el('span', null, n);
    s.style.bottom = `${((i + 1) / nW) * 100}%`;
    levels.append(s);
  });
  axis.append(levels, el('div', null, 'rows'), el('div', null, 'FLOPs'), el('div', null, 'step'));
  const cols = el('div', 'tl-cols');
  cols.id = 'tl-cols';
  const main = app.runs[app.main];
  steps.forEach((s, i) => {
    const col = el('div', 'tcol');
    col.dataset.step = String(i + 1);
    col.dataset.width = app.config.width_names[s.width];
    col.dataset.refresh = s.refresh ? '1' : '0';
    col.title = `step ${i + 1}: ${app.config.width_names[s.width]} (width ${app.config.widths[s.width]})\n` +
      `${s.rows} of ${seq} rows processed${s.refresh ? ' (cache refresh)' : ''}\n` +
      (s.flops ? `${(s.flops / 1e6).toFixed(1)} MFLOPs per image (baseline ${(s.baseline_flops / 1e6).toFixed(1)})` : '');
    if (i + 1 === app.cur) col.classList.add('current');
    // Each bar is a vertical slider over the widths; one tab stop for the row (← → move along it).
    const focusAt = Math.min(app.tlFocus || 0, steps.length - 1);
    col.tabIndex = i === focusAt ? 0 : -1;
    col.setAttribute('role', 'slider');
    col.setAttribute('aria-orientation', 'vertical');
    col.setAttribute('aria-label', `Step ${i + 1} sub-model`);
    col.setAttribute('aria-valuemin', '0');
    col.setAttribute('aria-valuemax', String(nW - 1));
    col.setAttribute('aria-valuenow', String(s.width));
    col.setAttribute('aria-valuetext', `${app.config.width_names[s.width]}, width ${app.config.widths[s.width]}${s.refresh ? ', cache refresh' : ''}`);
    const w = el('div', 'twidth');
    const bar = el('div', 'tbar', app.config.width_names[s.width]);
    bar.style.height = `${((s.width + 1) / nW) * 100}%`;
    bar.style.background = `var(--w${Math.min(s.width, 5)})`;
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
    const label = el('div', 'tstep', String(i + 1));
    col.append(w, rows, fl, label);
    if (main && i < main.steps.length) col.classList.add('done-step');
    cols.append(col);
  });
  tl.append(axis, cols);
  $('timeline').dataset.switches = String(steps.reduce((n, s, i) => n + (i > 0 && s.width !== steps[i - 1].width ? 1 : 0), 0));
  $('timeline').dataset.widths = steps.map((s) => app.config.width_names[s.width]).join(',');
}

// Drag editing: the pointer's height over a column picks that step's width.
function setupTimelineEditing() {
  const tl = $('timeline');
  let dragging = false;
  const apply = (ev) => {
    const cols = $('tl-cols');
    if (!cols || !app.config) return;
    const list = [...cols.children];
    const r = cols.getBoundingClientRect();
    const x = Math.min(Math.max(ev.clientX, r.left), r.right - 1);
    const idx = Math.min(list.length - 1, Math.max(0, Math.floor(((x - r.left) / r.width) * list.length)));
    const area = list[idx].querySelector('.twidth').getBoundingClientRect();
    const nW = app.config.widths.length;
    const frac = 1 - (ev.clientY - area.top) / area.height;
    const level = Math.min(nW - 1, Math.max(0, Math.ceil(frac * nW) - 1));
    if (app.schedule[idx] !== level) {
      app.schedule[idx] = level;
      app.state.schedule = scheduleString(app.schedule);
      $('schedule-text').value = app.state.schedule;
      document.querySelectorAll('.presets button[data-preset]').forEach((b) => b.classList.remove('active'));
      updatePlan();
    }
  };
  tl.addEventListener('pointerdown', (ev) => {
    if (!ev.target.closest('.twidth') || !app.config) return;
    dragging = true;
    tl.setPointerCapture(ev.pointerId);
    apply(ev);
    ev.preventDefault();
  });
  tl.addEventListener('pointermove', (ev) => { if (dragging) apply(ev); });
  const end = () => {
    if (!dragging) return;
    dragging = false;
    writeHash();
    scheduleGenerate();
  };
  tl.addEventListener('pointerup', end);
  tl.addEventListener('pointercancel', end);
  // Keyboard: ↑ ↓ (PageUp/PageDown) change the focused step's width, ← → Home End move.
  tl.addEventListener('keydown', (ev) => {
    const col = ev.target.closest('.tcol');
    if (!col || !app.config) return;
    const idx = Number(col.dataset.step) - 1, n = app.schedule.length, nW = app.config.widths.length;
    const move = { ArrowLeft: idx - 1, ArrowRight: idx + 1, Home: 0, End: n - 1 }[ev.key];
    const delta = { ArrowUp: 1, PageUp: 1, ArrowDown: -1, PageDown: -1 }[ev.key];
    if (move == null && delta == null) return;
    ev.preventDefault();
    if (move != null) {
      app.tlFocus = Math.max(0, Math.min(n - 1, move));
    } else {
      const level = Math.max(0, Math.min(nW - 1, app.schedule[idx] + delta));
      if (level === app.schedule[idx]) return;
      app.schedule[idx] = level;
      app.state.schedule = scheduleString(app.schedule);
      app.tlFocus = idx;
      applyStateToControls();
      scheduleGenerate();
    }
    renderTimeline();
    $('tl-cols').children[app.tlFocus].focus();
  });
}

// ---------------------------------------------------------------- generation
let genTimer = null;
function scheduleGenerate() {
  clearTimeout(genTimer);
  if (app.config) setStatus('pending');
  genTimer = setTimeout(generate, 300);
}

function baseRequest() {
  const s = app.state;
  return {
    classes: classesFor(s.cls, app.config, IMAGES),
    seed: s.seed,
    temperature: s.temp,
    tau: s.tau,
    guidance: s.g,
  };
}

function generate() {
  if (!app.config) return;
  clearTimeout(genTimer);
  const T = app.schedule.length;
  const mainSchedule = scheduleString(app.schedule);
  const runs = [];
  const mk = (kind, schedule, cache) => {
    const id = app.nextId++;
    const request = { ...baseRequest(), schedule, cache };
    app.runs[id] = { id, kind, schedule, request, steps: [], trace: null, images: new Map(), done: false, imagesDone: false, started: performance.now() };
    runs.push({ id, request });
    return id;
  };
  // Old runs are dropped; their late messages are ignored.
  app.runs = {};
  app.main = mk('main', mainSchedule, cacheString());
  const full = app.config.width_names[app.config.widths.length - 1];
  app.base = app.state.cmp ? mk('base', `${full}${T}`, 'off') : null;
  $('panel-base').hidden = !app.state.cmp;
  $('grids').classList.toggle('compare', app.state.cmp);
  $('main-title').textContent = app.state.cmp ? 'Your schedule' : 'Generated emoji';
  app.cur = 0;
  app.follow = true;
  stopPlaying();
  setStatus('generating');
  if (app.bannerFromRun) { app.bannerFromRun = false; reportProblems(); }
  buildGrids();
  if (app.waitingForView) {
    app.pendingRuns = runs;
    setStatus('waiting');
  } else {
    worker.postMessage({ type: 'cancel-images' });
    worker.postMessage({ type: 'generate', runs });
  }
  updateExportButtons();
  render();
}

// An embed decodes only once it is scrolled into view (a page of several embeds, or one far
// down a post, costs nothing until the reader gets there). Inside an iframe the observer's
// implicit root is the top-level viewport, so this works cross-origin too.
function holdUntilSeen() {
  if (!app.state.embed || typeof IntersectionObserver === 'undefined') return;
  app.waitingForView = true;
  const io = new IntersectionObserver((entries) => {
    if (!entries.some((e) => e.isIntersecting)) return;
    io.disconnect();
    app.waitingForView = false;
    if (app.pendingRuns) {
      setStatus('generating');
      worker.postMessage({ type: 'cancel-images' });
      worker.postMessage({ type: 'generate', runs: app.pendingRuns });
      app.pendingRuns = null;
      render();
    }
  });
  io.observe($('grids'));
}

function onStep(id, step) {
  const r = app.runs[id];
  if (!r) return;
  r.steps.push(step);
  if (id === app.main && app.follow) app.cur = step.step;
  render();
}
function onDone(id, trace) {
  const r = app.runs[id];
  if (!r) return;
  r.trace = trace;
  r.done = true;
  if (id === app.main) app.metrics.lastDecodeMs = trace.ms;
  renderStats();
  maybeFinished();
}
function onImages(m) {
  const r = app.runs[m.id];
  if (!r) return;
  const per = m.size * m.size * 4;
  const imgs = [];
  for (let b = 0; b < m.batch; b++) {
    imgs.push(new ImageData(new Uint8ClampedArray(m.rgba.buffer, m.rgba.byteOffset + b * per, per), m.size, m.size));
  }
  r.images.set(m.index, imgs);
  if (m.id === app.main && m.index === r.steps.length - 1 && app.metrics.firstGridMs == null) {
    app.metrics.firstGridMs = performance.now() - app.metrics.start;
  }
  render();
}
function maybeFinished() {
  const runs = Object.values(app.runs);
  const decoded = runs.every((r) => r.done);
  if (decoded && document.body.dataset.status === 'generating') {
    const main = app.runs[app.main];
    if (main && main.trace && !app.info.tokenizer && app.metrics.firstGridMs == null) app.metrics.firstGridMs = performance.now() - app.metrics.start;
    setStatus(runs.some((r) => r.error) ? 'error-run' : 'done');
  }
  if (runs.every((r) => r.imagesDone)) document.body.dataset.images = 'done';
  else document.body.dataset.images = 'pending';
  updateExportButtons();
  render();
}

// ---------------------------------------------------------------- exports
function exportData() {
  const run = app.runs[app.main];
  if (!run || !run.done || run.error || !run.steps.length) return null;
  if (app.info.tokenizer && !run.imagesDone) return null;
  const css = getComputedStyle(document.documentElement);
  return {
    config: app.config, palette: app.palette, run, schedule: run.schedule,
    widthColours: app.config.widths.map((_, i) => css.getPropertyValue(`--w${Math.min(i, 5)}`).trim()),
  };
}
function updateExportButtons() {
  const ready = !!exportData();
  for (const id of ['export-anim', 'export-png', 'copy-image']) $(id).disabled = !ready;
  if (!ready) $('export-note').textContent = 'available when the pictures are decoded';
  else if (/available when/.test($('export-note').textContent)) $('export-note').textContent = '';
}
function setupExports() {
  wireExports({
    anim: $('export-anim'), png: $('export-png'), copy: $('copy-image'),
    say: (t) => { $('export-note').textContent = t; },
    data: exportData,
    fileName: (ext) => `magnets-${app.runs[app.main].schedule}-seed${app.state.seed}${ext}`,
    msPerStep: () => 700 / app.state.speed,
  });
}

// ---------------------------------------------------------------- compute budget
// The slider's budget stays where the reader put it (app.budget); until then it follows the
// current schedule's compute.
function renderBudget() {
  const t = app.evalTable;
  const q = measuredQuality();
  renderBudgetControl({ box: $('budget-box'), slider: $('budget'), out: $('budget-out'), pick: $('budget-pick') }, {
    table: t && t.rows.length && app.plan ? t : null,
    budget: app.budget != null ? app.budget : app.plan && app.plan.total_gflops,
    current: app.plan && { schedule: scheduleString(app.schedule), gflops: app.plan.total_gflops, fid: q ? q.row.fid : null },
    fmt: fmt3,
  });
}
function setupBudget() {
  const slider = $('budget');
  slider.addEventListener('input', () => {
    const t = app.evalTable;
    if (!t || !app.config) return;
    app.budget = budgetScale(t.rows).toGflops(Number(slider.value));
    const best = bestUnder(t.rows, app.budget);
    if (best && (best.schedule !== scheduleString(app.schedule) || best.cache !== app.state.cache)) {
      app.state.schedule = best.schedule;
      app.state.cache = best.cache;
      applyStateToControls(); // re-renders the chart and the budget line
      scheduleGenerate();
    } else renderTradeoff();
  });
}

// ---------------------------------------------------------------- grid rendering
const CELL_PX = 160;
function buildGrids() {
  for (const [gridId, runId] of [['grid-main', app.main], ['grid-base', app.base]]) {
    const g = $(gridId);
    g.replaceChildren();
    if (runId == null) continue;
    const classes = app.runs[runId].request.classes;
    for (let b = 0; b < IMAGES; b++) {
      const cell = el('div', 'cell');
      const cv = document.createElement('canvas');
      cv.width = CELL_PX;
      cv.height = CELL_PX;
      cell.append(cv);
      const c = classes[b];
      if (app.state.cls === 'mix') {
        const tag = el('span', 'tag', c < app.config.classes ? app.config.class_names[c] : 'unconditional');
        cell.append(tag);
      }
      g.append(cell);
    }
  }
}

// A finished image is shown clean: at the last step of a finished decode the token states are
// drawn only while the pointer is over that grid or the "states on finished images" box is on.
function overlayShown(run, gridId) {
  const finished = run.done && !run.error && app.cur === run.steps.length && app.cur === app.schedule.length;
  return !finished || $('overlay').checked || app.hoverGrid === gridId;
}

function drawCell(cv, run, b, overlay) {
  const ctx = cv.getContext('2d');
  const idx = app.cur - 1;
  const step = idx >= 0 ? run.steps[idx] : null;
  const imgs = step ? run.images.get(idx) : null;
  ctx.clearRect(0, 0, CELL_PX, CELL_PX);
  paintCell(ctx, 0, 0, CELL_PX, {
    grid: app.config.grid, codebook: app.config.codebook, palette: app.palette,
    step, image: imgs ? imgs[b] : null, b, overlay,
  });
  return countStates(step ? step.states[b] : null, app.config.grid[0] * app.config.grid[1]);
}

function render() {
  if (!app.config) return;
  const main = app.runs[app.main];
  const T = app.schedule.length;
  const scrub = $('scrub');
  scrub.max = String(T);
  scrub.value = String(app.cur);
  $('step-label').textContent = `step ${app.cur} / ${T}`;
  scrub.setAttribute('aria-valuetext', `step ${app.cur} of ${T}`);
  let totals = { masked: 0, now: 0, earlier: 0 };
  for (const [gridId, runId] of [['grid-main', app.main], ['grid-base', app.base]]) {
    const run = app.runs[runId];
    if (!run) continue;
    const cells = $(gridId).querySelectorAll('canvas');
    const overlay = overlayShown(run, gridId);
    $(gridId).dataset.overlay = overlay ? 'on' : 'off';
    cells.forEach((cv, b) => {
      const c = drawCell(cv, run, b, overlay);
      if (runId === app.main) { totals.masked += c.masked; totals.now += c.now; totals.earlier += c.earlier; }
    });
  }
  const g = $('grid-main').dataset;
  g.step = String(app.cur);
  g.masked = String(totals.masked);
  g.fixedNow = String(totals.now);
  g.fixedEarlier = String(totals.earlier);
  g.decoded = String(main ? main.steps.length : 0);
  document.querySelectorAll('#tl-cols .tcol').forEach((c, i) => {
    c.classList.toggle('current', i + 1 === app.cur);
    c.classList.toggle('done-step', !!(main && i < main.steps.length));
  });
  renderProgress(main, $('main-progress'), $('main-progress-bar'));
  renderProgress(app.runs[app.base], $('base-progress'), $('base-progress-bar'));
  renderStats();
}

// The grid header says how far the decode is, with the time left once steps are slow enough
// to wait for (a software GPU or the CPU fallback: seconds per step).
function renderProgress(run, label, bar) {
  const T = app.schedule.length;
  if (!run) { label.textContent = ''; bar.parentElement.hidden = true; return; }
  const n = run.steps.length;
  let text, frac;
  if (run.error) { text = 'failed'; frac = 0; }
  else if (app.waitingForView) { text = 'starts when this is on screen'; frac = 0; }
  else if (!run.done) {
    const ms = meanStepMs(run);
    const left = ms != null ? ms * (T - n) : null;
    text = n === 0 ? (run.kind === 'base' && !app.runs[app.main]?.done ? 'waits for your schedule' : 'decoding step 1…')
      : `decoding: step ${n} of ${T}` + (left != null && ms > 400 ? ` · about ${Math.max(1, Math.round(left / 1000))} s left` : '');
    frac = n / T;
  } else if (app.info && app.info.tokenizer && !run.images.has(n - 1)) { text = 'finishing the pictures…'; frac = 1; }
  else { text = `done in ${(run.trace.ms / 1000).toFixed(1)} s`; frac = 1; }
  label.textContent = text;
  bar.style.width = `${(100 * frac).toFixed(1)}%`;
  bar.parentElement.hidden = run.done && !!run.trace;
}

// ---------------------------------------------------------------- transport
let playTimer = null;
function stopPlaying() {
  app.playing = false;
  clearInterval(playTimer);
  $('play').classList.remove('playing');
  $('play').setAttribute('aria-label', 'Play');
}
function startPlaying() {
  const main = app.runs[app.main];
  if (!main) return;
  app.playing = true;
  app.follow = false;
  $('play').classList.add('playing');
  $('play').setAttribute('aria-label', 'Pause');
  if (app.cur >= main.steps.length) app.cur = 0;
  render();
  clearInterval(playTimer);
  playTimer = setInterval(() => {
    const m = app.runs[app.main];
    if (!m) return stopPlaying();
    if (app.cur >= m.steps.length) {
      if (m.done) return stopPlaying();
      return; // wait for the live decode
    }
    app.cur++;
    render();
  }, 700 / app.state.speed);
}
function step(delta) {
  const main = app.runs[app.main];
  const max = main ? main.steps.length : 0;
  stopPlaying();
  app.follow = false;
  app.cur = Math.max(0, Math.min(max, app.cur + delta));
  render();
}

// ---------------------------------------------------------------- control wiring
function setupControls() {
  $('play').onclick = () => (app.playing ? stopPlaying() : startPlaying());
  $('prev').onclick = () => step(-1);
  $('next').onclick = () => step(1);
  $('scrub').oninput = () => {
    const main = app.runs[app.main];
    stopPlaying();
    app.follow = false;
    app.cur = Math.min(Number($('scrub').value), main ? main.steps.length : 0);
    render();
  };
  $('speed').onchange = () => {
    app.state.speed = Number($('speed').value);
    writeHash();
    if (app.playing) startPlaying();
  };
  document.addEventListener('keydown', (ev) => {
    if (ev.target.closest('input, select, textarea, #timeline, #tradeoff-plot')) return;
    if (ev.key === 'ArrowLeft') step(-1);
    else if (ev.key === 'ArrowRight') step(1);
    else if (ev.key === ' ' && !ev.target.closest('button')) { ev.preventDefault(); app.playing ? stopPlaying() : startPlaying(); }
  });
  document.querySelectorAll('.presets').forEach((group) => group.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-preset]');
    if (!b || !app.config) return;
    app.state.schedule = b.dataset.preset;
    app.state.steps = app.schedule.length || DEFAULTS.steps;
    // A preset is a schedule and a cache policy: the MaskGIT baseline recomputes every row.
    if (b.dataset.cache) app.state.cache = b.dataset.cache;
    applyStateToControls();
    scheduleGenerate();
  }));
  const pickPoint = (ev) => {
    const p = ev.target.closest('#tradeoff-plot .pt');
    if (!p || !app.config) return;
    app.state.schedule = p.dataset.schedule;
    app.state.cache = p.dataset.cache;
    applyStateToControls();
    scheduleGenerate();
  };
  $('tradeoff-plot').addEventListener('click', pickPoint);
  if (typeof ResizeObserver !== 'undefined') {
    new ResizeObserver(() => {
      const plot = $('tradeoff-plot');
      const drawn = Number(plot.dataset.drawnWidth || 0);
      if (!$('tradeoff').hidden && Math.abs(tradeoffWidth(plot) - drawn) > 24) renderTradeoff();
    }).observe($('tradeoff'));
  }
  $('tradeoff-plot').addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); pickPoint(ev); } });
  $('schedule-text').onchange = () => {
    const text = $('schedule-text').value.trim();
    try {
      const canon = app.planner ? app.planner.normalize_schedule(JSON.stringify(app.config), text, 0) : text;
      app.state.schedule = canon;
      applyStateToControls();
      scheduleGenerate();
    } catch (e) {
      $('schedule-text').classList.add('bad');
      $('schedule-help').classList.add('bad');
      $('schedule-help').textContent = String(e.message || e);
    }
  };
  $('steps').onchange = () => {
    const n = Number($('steps').value);
    const max = app.config.grid[0] * app.config.grid[1];
    if (!Number.isInteger(n) || n < 1 || n > max) {
      $('steps').classList.add('bad');
      $('schedule-help').classList.add('bad');
      $('schedule-help').textContent = `steps must be a whole number from 1 to ${max} (each step unmasks at least one of the ${max} tokens)`;
      return;
    }
    $('steps').classList.remove('bad');
    if (!isPreset(app.state.schedule)) {
      // Stretch the custom schedule to the new length.
      const old = app.schedule;
      app.state.schedule = scheduleString(Array.from({ length: n }, (_, i) => old[Math.min(old.length - 1, Math.floor((i * old.length) / n))]));
    }
    app.state.steps = n;
    applyStateToControls();
    scheduleGenerate();
  };
  const cacheChanged = () => {
    const on = $('cache-on').checked;
    const k = Number($('refresh').value);
    app.state.cache = !on ? 'off' : Number.isInteger(k) && k >= 1 && k <= 1024 ? `on:${k}` : 'on';
    applyStateToControls();
    scheduleGenerate();
  };
  $('cache-on').onchange = cacheChanged;
  $('refresh').onchange = cacheChanged;
  const numField = (id, key, lo, hi, int) => {
    $(id).onchange = () => {
      const v = Number($(id).value);
      if ($(id).value === '' || !Number.isFinite(v) || v < lo || v > hi || (int && !Number.isInteger(v))) {
        $(id).classList.add('bad');
        $(id).title = `${lo} to ${hi}`;
        return;
      }
      $(id).classList.remove('bad');
      app.state[key] = v;
      applyStateToControls();
      scheduleGenerate();
    };
  };
  numField('seed', 'seed', 0, 4294967295, true);
  numField('temp', 'temp', 0, 10, false);
  numField('tau', 'tau', 0, 100, false);
  numField('g', 'g', 0, 20, false);
  $('class').onchange = () => { app.state.cls = $('class').value; applyStateToControls(); scheduleGenerate(); };
  $('reseed').onclick = () => { app.state.seed = Math.floor(Math.random() * 1e6); applyStateToControls(); scheduleGenerate(); };
  $('generate').onclick = () => generate();
  $('compare').onchange = () => { app.state.cmp = $('compare').checked; applyStateToControls(); scheduleGenerate(); };
  const copy = async (text, button) => {
    const old = button.textContent;
    try { await navigator.clipboard.writeText(text); button.textContent = 'Copied ✓'; }
    catch (_) { $('embed-code').value = text; $('embed-code').select(); button.textContent = 'Select + copy ↓'; }
    setTimeout(() => (button.textContent = old), 1500);
  };
  $('copy-link').onclick = () => copy(location.href, $('copy-link'));
  $('copy-embed').onclick = () => copy($('embed-code').value, $('copy-embed'));
  window.addEventListener('hashchange', () => {
    if (app.ignoreHash) return;
    const { state, problems } = parseHash(location.hash);
    const embedBefore = app.state.embed;
    app.state = state;
    app.problems = problems;
    reportProblems();
    document.body.classList.toggle('embed', state.embed);
    $('embed-head').hidden = !state.embed;
    if (!app.config) return;
    applyStateToControls();
    if (embedBefore !== state.embed) buildGrids();
    generate();
  });
  setupTimelineEditing();
  setupExports();
  setupBudget();
  $('overlay').onchange = () => render();
  for (const id of ['grid-main', 'grid-base']) {
    $(id).addEventListener('pointerenter', () => { app.hoverGrid = id; render(); });
    $(id).addEventListener('pointerleave', () => { if (app.hoverGrid === id) app.hoverGrid = null; render(); });
  }
}

// ---------------------------------------------------------------- start
async function main() {
  const { state, problems } = parseHash(location.hash);
  app.state = state;
  app.problems = problems;
  reportProblems();
  document.body.classList.toggle('embed', state.embed);
  $('embed-head').hidden = !state.embed;
  holdUntilSeen();
  setupControls();
  updateEmbedSnippet();
  if (typeof Worker === 'undefined' || typeof WebAssembly === 'undefined') {
    fatal('this browser lacks Web Workers or WebAssembly, which the demo needs.');
    return;
  }
  const planner = loadPlanner();
  const urls = await modelUrls();
  const palette = loadPalette();
  const evalTable = loadEvalTable();
  startWorker();
  await Promise.all([planner, palette, evalTable]);
  document.body.dataset.preview = app.palette ? 'palette' : 'hues';
  if (!app.planner) { fatal('could not load the WebAssembly bundle (pkg/magnets.js); was the page built with scripts/build-web.sh?'); return; }
  worker.postMessage({ type: 'init', weights: urls.weights, tokenizer: urls.tokenizer, forceCpu: state.cpu, batch: IMAGES * 2 });
}

main().catch((e) => fatal(String(e && e.message ? e.message : e)));
