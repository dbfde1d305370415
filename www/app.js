// MaGNeTS page controller: holds the page's state (URL hash, engine, runs, shown step) and
// hands each widget its data: grids (grids.js), timeline and schedule editor (timeline.js),
// quality–compute chart (chart.js), stats (stats.js), transport (transport.js), compute budget
// (budget.js), exports (export.js); a clip model's Animate mode (animate.js). The engine runs in
// a worker (engine-client.js, worker.js).
// Plain ES modules, no framework.
import { DEFAULTS, parseHash, formatHash, classesFor } from './state.js';
import { Msg, Bundle, ErrorKind } from './protocol.js';
import { loadManifest, manifestEntry, versionedUrl, loadEvalTable, loadPalette, evalRow, TUNED_PICKS, measuredWith, guidanceText, tableMetric } from './assets.js';
import { pickModel, modelMenu, samplingFor, animateModelFor, runsOnCpu, largerOffer } from './models.js';
import { startEngine, loadPlannerModule, makePlanner } from './engine-client.js';
import { showBanner, showNotice, reportProblems, showFatal, fallbackSentence, setEngineBadge, showLoadProgress } from './notices.js';
import { createTimeline, timelineSteps } from './timeline.js';
import { buildGrid, paintGrid, renderProgress } from './grids.js';
import { renderChart, chartWidth } from './chart.js';
import { renderStats, fmt3 } from './stats.js';
import { createTransport } from './transport.js';
import { setupControls, applyStateToControls as showState, buildModelControls } from './controls.js';
import { wireExports, download } from './export.js';
import { generateCommand, measureCommand, measureNeeds, traceFile } from './reproduce.js';
import { bestUnder, budgetScale, renderBudgetControl } from './budget.js';
import { createAnimateMode, clipsFor, carriedFrame, MAX_CLIPS } from './animate.js';

const $ = (id) => document.getElementById(id);
const IMAGES = 16;

// ---------------------------------------------------------------- app state
const app = {
  state: null,            // parsed URL state (see state.js)
  info: null,             // engine info: {kind, describe, adapter, config, tokenizer, image_size}
  manifest: null,         // models/manifest.json (assets.js)
  device: null,           // {bundle, software, adapter}: which engine can run here (the worker's probe)
  model: null,            // the model in use: {id, weights, tokenizer, why} (models.js)
  palette: null,          // {codebook, tokenizer_sha256, rgb}: preview colour per code (assets.js)
  evalTable: null,        // measured FID-emoji per schedule for the loaded model (assets.js)
  bundle: null,           // Bundle.webgpu | Bundle.cpu
  config: null,
  planner: null,          // schedules and their cost, from the wasm bundle (engine-client.js)
  schedule: [],           // width index per step (what the editor shows)
  schedulePreset: false,  // state.schedule is a preset name (its length follows state.steps)
  plan: null,             // flops::FlopsSummary for the current schedule
  runs: {},               // id -> {kind, request, steps[], trace, images: Map(stepIndex -> ImageData[]), done, error}
  main: null, base: null, // current run ids
  cur: 0,                 // displayed step, 0 = nothing decoded yet
  follow: true,           // follow the live decode
  metrics: { start: performance.now() },
  problems: [],
  nextId: 1,
  clips: 2,               // clips per decode in Animate mode (animate.js clipsFor)
  carried: null,          // Animate: a frame carried from an image model (ctx= text), or null
  selected: 0,            // the image an "Animate this emoji" carries
};
window.magnets = app; // test + debugging hook
// Test hook: destroys the engine's GPU device as a driver reset would (recovery test).
app.simulateDeviceLoss = () => engine.simulateDeviceLoss();

const animate = createAnimateMode({
  app, $,
  changed: () => { applyStateToControls(); scheduleGenerate(); },
  askDecode: (id, codes) => engine.decodeCodes(id, codes),
});

function setStatus(s) { document.body.dataset.status = s; }
setStatus('loading');
const fatal = (message, kind) => showFatal(message, kind, app.problems);
const report = () => reportProblems(app.problems);

// ---------------------------------------------------------------- schedule
const scheduleText = () => (app.schedule.length ? app.planner.format(app.schedule) : '');

// Resolves state.schedule (+ steps) against the model; a bad value → problem + default.
function resolveSchedule() {
  const s = app.state;
  const take = (r) => {
    app.schedule = r.widths;
    app.schedulePreset = r.preset;
  };
  try {
    take(app.planner.resolve(s.schedule, s.steps));
    if (!app.schedulePreset) s.steps = app.schedule.length;
  } catch (e) {
    app.problems.push(`schedule “${s.schedule}” with ${s.steps} steps: ${e.message || e}; using the MaGNeTS preset with ${DEFAULTS.steps} steps`);
    s.schedule = DEFAULTS.schedule;
    s.steps = DEFAULTS.steps;
    take(app.planner.resolve(s.schedule, s.steps));
    report();
  }
}

function validateClass() {
  const s = app.state;
  if (s.cls !== 'mix' && s.cls !== 'null' && Number(s.cls) >= app.config.classes) {
    app.problems.push(`class ${s.cls} does not exist (this model has ${app.config.classes}); using mix`);
    s.cls = 'mix';
    report();
  }
}

// The running model's manifest entry (null for a link's own weights or before the manifest).
const modelEntry = () => (app.model && app.model.id && app.manifest && app.manifest.models.find((m) => m.id === app.model.id)) || null;
// The sampling settings decodes use now: the link's or the controls', else the model's.
const sampling = () => samplingFor(app.state, modelEntry());

// The state changed: check it against the model, show it in every control, replan, relink.
function applyStateToControls() {
  resolveSchedule();
  validateClass();
  if (animate.validate()) report();
  showState(app.state, app.schedule, scheduleText(), sampling());
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
  // A reader's own device picks the engine: the sharer's cpu=/gpu= stay out of the snippet.
  const forReaders = { ...app.state, cpu: DEFAULTS.cpu, gpu: DEFAULTS.gpu };
  const h = formatHash({ ...forReaders, embed: true });
  const src = `${base}#${h}`;
  // Fluid width up to the embed's design width; the height fits the player at any width (its
  // grid stops growing at 340 px), so a 390-px phone post neither scrolls sideways nor cuts it.
  $('embed-code').value = `<iframe src="${src}" width="100%" height="${EMBED_HEIGHT}" style="max-width:560px;border:0;border-radius:12px" loading="lazy" title="MaGNeTS: a nested transformer decoding emoji, live"></iframe>`;
  $('embed-open').href = `${base}#${formatHash({ ...forReaders, embed: false })}`;
}

// ---------------------------------------------------------------- plan, stats, chart, budget
function updatePlan() {
  app.plan = null;
  if (app.schedule.length) {
    try {
      app.plan = app.planner.plan(scheduleText(), app.state.cache, sampling().g > 0);
    } catch (e) {
      app.plan = null;
    }
  }
  renderTimeline();
  showStats();
  renderTradeoff();
}

// The measured row for the current schedule and settings, with the baseline's, or null.
function measuredQuality() {
  const t = app.evalTable;
  if (!t || !app.config || !app.schedule.length || !measuredWith(t, sampling())) return null;
  const row = evalRow(t, { schedule: scheduleText(), cache: app.state.cache });
  const base = evalRow(t, t.baseline);
  return row && base ? { row, base, table: t } : null;
}

function showStats() {
  renderStats({
    gflops: $('st-gflops'), ratio: $('st-ratio'), ms: $('st-ms'), fid: $('st-fid'), fidSub: $('st-fid-sub'),
    device: $('st-device'), mainSub: $('main-sub'), baseSub: $('base-sub'), msSub: $('st-ms-sub'),
  }, { plan: app.plan, main: app.runs[app.main], base: app.runs[app.base], quality: measuredQuality(), haveTable: !!app.evalTable, info: app.info });
}

function renderTradeoff() {
  const card = $('tradeoff');
  const t = app.evalTable;
  if (!t || !app.config || !t.rows.length) { card.hidden = true; return; }
  card.hidden = false;
  const q = measuredQuality();
  const { metric, unit, count } = tableMetric(t);
  renderChart($('tradeoff-plot'), {
    rows: t.rows, baseRow: evalRow(t, t.baseline), tunedRows: TUNED_PICKS.filter(([key]) => t[key]).map(([key]) => evalRow(t, t[key])),
    current: q ? q.row : null, nowGflops: app.plan ? app.plan.total_gflops : null, nowName: scheduleText(),
    budget: app.budget, fmt: fmt3, metric, unit,
  });
  document.querySelector('.stat.fid .k').textContent = `${metric} vs MaskGIT`;
  $('tradeoff-plot').setAttribute('aria-label', `${metric} against GFLOPs per ${unit} for the measured schedules`);
  $('tradeoff-note').textContent = `${count} per point, seed ${t.settings.seed}, `
    + `τ ${t.settings.tau}, temperature ${t.settings.temperature}, guidance ${guidanceText(t.settings.guidance, t.settings.guidance_schedule)}`
    + (measuredWith(t, sampling()) ? '' : ' — the current sampling settings differ, so no point is ringed')
    + '; the staircase is the best measured FID at each compute';
  renderBudget();
}

// The slider's budget stays where the reader put it (app.budget); until then it follows the
// current schedule's compute.
function renderBudget() {
  const t = app.evalTable;
  const q = measuredQuality();
  renderBudgetControl({ box: $('budget-box'), slider: $('budget'), out: $('budget-out'), unit: $('budget-unit'), pick: $('budget-pick') }, {
    table: t && t.rows.length && app.plan ? t : null,
    budget: app.budget != null ? app.budget : app.plan && app.plan.total_gflops,
    current: app.plan && { schedule: scheduleText(), gflops: app.plan.total_gflops, fid: q ? q.row.fid : null },
    fmt: fmt3,
    unit: t && t.rows.length ? tableMetric(t).unit : 'image',
  });
}
function onBudget(pos) {
  const t = app.evalTable;
  if (!t || !app.config) return;
  app.budget = budgetScale(t.rows).toGflops(pos);
  const best = bestUnder(t.rows, app.budget);
  if (best && (best.schedule !== scheduleText() || best.cache !== app.state.cache)) {
    app.state.schedule = best.schedule;
    app.state.cache = best.cache;
    applyStateToControls(); // re-renders the chart and the budget line
    scheduleGenerate();
  } else renderTradeoff();
}

// ---------------------------------------------------------------- timeline
const timeline = createTimeline($('timeline'), {
  widthsNow: () => app.schedule,
  onEdit: (idx, level, how) => {
    app.schedule[idx] = level;
    app.state.schedule = scheduleText();
    app.schedulePreset = false; // an edited preset is a schedule of its own
    if (how === 'drag') {
      $('schedule-text').value = app.state.schedule;
      document.querySelectorAll('.presets button[data-preset]').forEach((b) => b.classList.remove('active'));
      updatePlan();
    } else {
      applyStateToControls();
      scheduleGenerate();
    }
  },
  onDragEnd: () => { writeHash(); scheduleGenerate(); },
});
function renderTimeline() {
  if (!app.config) return;
  const main = app.runs[app.main];
  timeline.render({
    config: app.config, cur: app.cur, decoded: main ? main.steps.length : 0,
    steps: timelineSteps({ plan: app.plan, run: main, widths: app.schedule, config: app.config }),
  });
}

// ---------------------------------------------------------------- generation
let genTimer = null;
function scheduleGenerate() {
  clearTimeout(genTimer);
  if (app.config) setStatus('pending');
  genTimer = setTimeout(generate, 300);
}

function generate() {
  if (!app.config) return;
  clearTimeout(genTimer);
  const s = app.state;
  const { temp, tau, g, gs } = sampling();
  const runs = [];
  // Animate: the clips' classes and given frames (animate.js); else IMAGES images.
  const what = animate.on ? animate.request() : { classes: classesFor(s.cls, app.config, IMAGES) };
  const mk = (kind, schedule, cache) => {
    const id = app.nextId++;
    const request = { ...what, seed: s.seed, temperature: temp, tau, guidance: g, guidance_schedule: gs, schedule, cache };
    app.runs[id] = {
      id, kind, schedule, request, clips: animate.on ? animate.clips : null,
      steps: [], trace: null, images: new Map(), done: false, imagesDone: false, started: performance.now(),
    };
    runs.push({ id, request });
    return id;
  };
  // Old runs are dropped; their late messages are ignored. A decode still running is cancelled
  // by the worker (counted: the tests check that a replaced decode ends quietly).
  const running = app.runs[app.main];
  if (running && !running.done && !app.waitingForView) app.metrics.replacedRuns = (app.metrics.replacedRuns || 0) + 1;
  app.runs = {};
  app.main = mk('main', scheduleText(), s.cache);
  const full = app.config.width_names[app.config.widths.length - 1];
  app.base = s.cmp ? mk('base', `${full}${app.schedule.length}`, 'off') : null;
  $('panel-base').hidden = !s.cmp;
  $('grids').classList.toggle('compare', s.cmp);
  $('main-title').textContent = s.cmp ? 'Your schedule' : animate.on ? 'Predicted clips' : 'Generated emoji';
  app.cur = 0;
  app.follow = true;
  transport.stop();
  setStatus('generating');
  if (app.bannerFromRun) { app.bannerFromRun = false; report(); }
  buildGrids();
  if (app.waitingForView) {
    app.pendingRuns = runs;
    setStatus('waiting');
  } else {
    engine.generate(runs);
  }
  updateExportButtons();
  updateReproduce();
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
      engine.generate(app.pendingRuns);
      app.pendingRuns = null;
      render();
    }
  });
  io.observe($('grids'));
}

// ---------------------------------------------------------------- engine messages
function onReady(m) {
  app.info = m.info;
  app.bundle = m.bundle;
  app.config = m.info.config;
  app.planner = makePlanner(app.plannerModule, app.config);
  app.metrics.readyMs = performance.now() - app.metrics.start;
  $('loading').classList.add('done');
  setEngineBadge(m.bundle, m.fallback);
  const cannot = animate.ready(app.model.tokenizer && (manifestEntry(app.manifest, app.model.tokenizer) || {}).sha256);
  if (cannot) { fatal(cannot, ErrorKind.badData); return; }
  const notes = [];
  if (m.bundle !== Bundle.webgpu) notes.push(fallbackSentence(m.fallback));
  if (app.model.why) notes.push(app.model.why);
  if (m.note) notes.push(m.note);
  if (notes.length) showNotice(notes.join(' '));
  const mb = $('model-badge');
  const entry = manifestEntry(app.manifest, app.model.weights);
  const shipped = modelMenu(app.manifest, app.model.id).find((e) => e.selected);
  const frames = app.config.frames > 1 ? `${app.config.frames} frames of ` : '';
  const size = `${frames}${app.config.grid[0]}×${app.config.grid[1]} tokens · ${app.config.codebook} codes`;
  mb.textContent = entry && entry.random ? 'untrained random weights' : (shipped ? `${shipped.label.replace(/ \(default\)$/, '')} model · ${size}` : size);
  mb.hidden = false;
  showModelMenu();
  if (!m.info.tokenizer && !m.note) showNotice(($('notice').textContent ? $('notice').textContent + ' ' : '') + 'No tokenizer loaded: tokens are shown as colours instead of pixels.');
  buildModelControls(app.config, app.evalTable);
  applyStateToControls();
  generate();
}

// The worker rebuilt the engine after the GPU device was lost: say so, and run the interrupted
// generation again (the state and the URL were never touched).
function onRecovered(m) {
  app.info = m.info;
  app.bundle = m.bundle;
  setEngineBadge(m.bundle, m.fallback);
  app.metrics.recoveries = (app.metrics.recoveries || 0) + 1;
  showNotice(m.note);
  generate();
}

function onStep({ id, step }) {
  const r = app.runs[id];
  if (!r) return;
  r.steps.push(step);
  if (id === app.main && app.follow) app.cur = step.step;
  render();
}
function onDone({ id, trace }) {
  const r = app.runs[id];
  if (!r) return;
  r.trace = trace;
  r.done = true;
  if (id === app.main) updateReproduce();
  if (id === app.main && app.metrics.lastDecodeMs == null) offerLargerModel(trace.ms);
  if (id === app.main) app.metrics.lastDecodeMs = trace.ms;
  if (id === app.main) animate.askPixels();
  showStats();
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
function onError(m) {
  const r = app.runs[m.id];
  if (r) { r.error = m.message; r.errorKind = m.kind; r.done = true; r.imagesDone = true; }
  app.metrics.lastErrorKind = m.kind;
  showBanner([(m.images ? '' : 'Generation failed: ') + m.message]);
  setStatus('error-run');
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
  const imagesDone = runs.every((r) => r.imagesDone);
  document.body.dataset.images = imagesDone ? 'done' : 'pending';
  if (decoded && imagesDone && !runs.some((r) => r.error)) animate.finished();
  updateExportButtons();
  showAnimateThis();
  render();
}

// ---------------------------------------------------------------- exports
function exportData() {
  const run = app.runs[app.main];
  if (!run || !run.done || run.error || !run.steps.length) return null;
  if (app.info.tokenizer && !run.imagesDone) return null;
  const css = getComputedStyle(document.documentElement);
  return {
    config: app.config, palette: app.palette, run, schedule: run.schedule, clips: animate.on ? animate.clips : null,
    widthColours: app.config.widths.map((_, i) => css.getPropertyValue(`--w${Math.min(i, 5)}`).trim()),
  };
}
// The Share card's "Reproduce": the CLI commands for the main run, and its trace once decoded.
function updateReproduce() {
  const run = app.runs[app.main];
  const box = $('cli-code');
  $('download-trace').disabled = !traceFile(run, {});
  if (!run) { box.value = ''; return; }
  const gen = generateCommand({ model: modelEntry(), request: run.request, clips: run.clips });
  const lines = gen.command
    ? [`# these ${animate.on ? 'clips' : 'images'} again (trace.json and PNGs in magnets-seed${run.request.seed}/)`, gen.command]
    : [`# ${gen.why}`];
  const measure = measureCommand(app.evalTable, run.request);
  if (measure) {
    const needs = measureNeeds(app.evalTable);
    lines.push(`# this schedule's ${animate.on ? 'frame-FID' : 'FID-emoji'} as the page's table measures it${needs ? ` (needs ${needs})` : ''}`, measure);
  }
  box.value = lines.join('\n');
}
function downloadTrace() {
  const run = app.runs[app.main];
  const entry = modelEntry();
  const file = traceFile(run, {
    model: app.model.id, weights: entry && entry.cli ? entry.cli.weights : app.model.weights,
    weights_sha256: (manifestEntry(app.manifest, app.model.weights) || {}).sha256 || null,
    engine: app.info ? app.info.describe : null, link: location.href,
  });
  if (file) download(new Blob([JSON.stringify(file)], { type: 'application/json' }), `magnets-${run.schedule}-seed${run.request.seed}.trace.json`);
}

function updateExportButtons() {
  const ready = !!exportData();
  for (const id of ['export-anim', 'export-png', 'copy-image']) $(id).disabled = !ready;
  if (!ready) $('export-note').textContent = 'available when the pictures are decoded';
  else if (/available when/.test($('export-note').textContent)) $('export-note').textContent = '';
}

// ---------------------------------------------------------------- grids + transport
function buildGrids() {
  for (const [gridId, runId] of [['grid-main', app.main], ['grid-base', app.base]]) {
    const run = runId == null ? null : app.runs[runId];
    $(gridId).classList.toggle('clips', animate.on);
    if (animate.on) animate.buildGrid($(gridId), run);
    else buildGrid($(gridId), { classes: run && run.request.classes, config: app.config, tagClasses: app.state.cls === 'mix' });
  }
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
    const peek = $('overlay').checked || app.hoverGrid === gridId;
    const c = animate.on ? animate.paint($(gridId), run, peek)
      : paintGrid($(gridId), run, { cur: app.cur, totalSteps: T, config: app.config, palette: app.palette, peek });
    if (runId === app.main) totals = c;
  }
  const g = $('grid-main').dataset;
  g.step = String(app.cur);
  g.masked = String(totals.masked);
  g.fixedNow = String(totals.now);
  g.fixedEarlier = String(totals.earlier);
  g.given = String(totals.given || 0);
  $('grid-main').querySelectorAll('.cell').forEach((c, i) => c.classList.toggle('selected', !animate.on && i === app.selected && !$('animate-this').hidden));
  g.decoded = String(main ? main.steps.length : 0);
  timeline.mark(app.cur, main ? main.steps.length : 0);
  const base = app.runs[app.base];
  timeline.times(main ? main.steps.map((s) => s.ms) : [], base ? base.steps.map((s) => s.ms) : null);
  const progress = { totalSteps: T, waitingForView: app.waitingForView, withImages: !!(app.info && app.info.tokenizer) };
  renderProgress($('main-progress'), $('main-progress-bar'), main, { ...progress, waitsForMain: false });
  renderProgress($('base-progress'), $('base-progress-bar'), app.runs[app.base], { ...progress, waitsForMain: !(main && main.done) });
  showStats();
}

const transport = createTransport({
  button: $('play'),
  stepsDecoded: () => (app.runs[app.main] ? app.runs[app.main].steps.length : null),
  finished: () => !!(app.runs[app.main] && app.runs[app.main].done),
  cur: () => app.cur,
  show: (step) => { app.follow = false; app.cur = step; render(); },
  msPerStep: () => 700 / app.state.speed,
});

// ---------------------------------------------------------------- start
let engine = null;

function onHashChange() {
  if (app.ignoreHash) return;
  const { state, problems } = parseHash(location.hash);
  const embedBefore = app.state.embed;
  const modelChanged = ['m', 'w', 'tok', 'cpu', 'gpu'].some((k) => state[k] !== app.state[k]);
  app.state = state;
  app.problems = problems;
  report();
  document.body.classList.toggle('embed', state.embed);
  $('embed-head').hidden = !state.embed;
  if (modelChanged && engine) { switchModel(); return; }
  if (!app.config) return;
  applyStateToControls();
  if (embedBefore !== state.embed) buildGrids();
  generate();
}

async function main() {
  const { state, problems } = parseHash(location.hash);
  app.state = state;
  app.problems = problems;
  report();
  document.body.classList.toggle('embed', state.embed);
  $('embed-head').hidden = !state.embed;
  holdUntilSeen();
  setupControls({
    app, transport, applyStateToControls, scheduleGenerate, generate, writeHash, render, onBudget, onHashChange, selectModel, sampling,
    replot: () => {
      const plot = $('tradeoff-plot');
      if (!$('tradeoff').hidden && Math.abs(chartWidth(plot) - Number(plot.dataset.drawnWidth || 0)) > 24) renderTradeoff();
    },
  });
  wireExports({
    anim: $('export-anim'), png: $('export-png'), copy: $('copy-image'),
    say: (t) => { $('export-note').textContent = t; },
    data: exportData,
    fileName: (ext) => `magnets-${app.runs[app.main].schedule}-seed${app.state.seed}${ext}`,
    msPerStep: () => 700 / app.state.speed,
  });
  updateEmbedSnippet();
  $('download-trace').onclick = downloadTrace;
  if (typeof Worker === 'undefined' || typeof WebAssembly === 'undefined') {
    fatal('this browser lacks Web Workers or WebAssembly, which the demo needs.', ErrorKind.other);
    return;
  }
  app.plannerLoading = loadPlannerModule();
  app.manifest = await loadManifest();
  startWorker();
}

// The engine worker's messages; a new worker (a model switch) gets the same handlers.
function startWorker() {
  engine = startEngine({
    [Msg.probed]: (m) => { app.device = m; loadModel(); },
    [Msg.status]: (m) => { $('loading-text').textContent = m.text; },
    [Msg.progress]: (m) => {
      if (m.cached) app.metrics.cached = (app.metrics.cached || []).concat(m.what);
      showLoadProgress(m);
    },
    [Msg.ready]: onReady,
    [Msg.recovered]: onRecovered,
    [Msg.fatal]: (m) => fatal(m.message, m.kind),
    [Msg.step]: onStep,
    [Msg.done]: onDone,
    [Msg.images]: onImages,
    [Msg.imagesDone]: (m) => {
      const r = app.runs[m.id];
      if (m.id === app.main && app.metrics.imagesDoneMs == null) app.metrics.imagesDoneMs = performance.now() - app.metrics.start;
      if (r) { r.imagesDone = true; maybeFinished(); }
    },
    [Msg.error]: onError,
    [Msg.codesDecoded]: (m) => animate.onPixels(m),
  }, (message) => fatal(message, ErrorKind.crashed));
  engine.probe({ forceCpu: app.state.cpu });
}

// Picks the model for this device and link (models.js), fetches its page files and starts the
// engine on it.
async function loadModel() {
  const s = app.state;
  app.model = pickModel(app.manifest, s, app.device);
  if (app.model.problem) { app.problems.push(app.model.problem); report(); }
  // An embed keeps to two clips: it has the height of the image grid.
  app.clips = s.embed ? Math.min(2, clipsFor(app.device, s)) : clipsFor(app.device, s);
  const entry = modelEntry();
  const clipModel = !!(entry && entry.kind === 'clip');
  const palette = loadPalette(app.manifest, app.model.tokenizer);
  const evalTable = loadEvalTable(app.manifest, app.model.weights);
  [app.plannerModule, app.palette, app.evalTable] = await Promise.all([app.plannerLoading, palette, evalTable, animate.load(app.manifest, entry)]);
  document.body.dataset.preview = app.palette ? 'palette' : 'hues';
  document.body.dataset.model = app.model.id || 'custom';
  if (!app.plannerModule) { fatal('could not load the WebAssembly bundle (pkg/magnets.js); was the page built with scripts/build-web.sh?', ErrorKind.other); return; }
  engine.init({
    weights: versionedUrl(app.manifest, app.model.weights), tokenizer: app.model.tokenizer ? versionedUrl(app.manifest, app.model.tokenizer) : null,
    // Sequences the engine holds at once: every image (or clip) twice with guidance.
    forceCpu: s.cpu, preferCpu: runsOnCpu(app.device, s), batch: (clipModel ? MAX_CLIPS : IMAGES) * 2,
  });
}

// The Model menu: every staged model (hidden with fewer than two, or with a link's own weights).
function showModelMenu() {
  const menu = modelMenu(app.manifest, app.model.id);
  const sel = $('model');
  sel.replaceChildren(...menu.map((e) => {
    const o = new Option(e.label, e.id, false, e.selected);
    o.title = e.title;
    return o;
  }));
  $('model-row').hidden = menu.length < 2 || !app.model.id;
  const chosen = menu.find((e) => e.selected);
  $('model-help').textContent = chosen ? chosen.title : '';
}

// Another model: a new worker (the old one's engine and GPU memory go with it) loads it; the
// schedule and sampling settings stay, the link records the choice.
function switchModel() {
  engine.terminate();
  animate.stop();
  Object.assign(app, { info: null, config: null, planner: null, evalTable: null, palette: null, runs: {}, main: null, base: null, cur: 0, budget: null });
  app.metrics = { start: performance.now() };
  setStatus('loading');
  showNotice(''); // the last model's notes (why it was picked, a fallback) belong to it
  $('loading').classList.remove('done');
  $('loading-text').textContent = 'Loading the model…';
  startWorker();
}
function selectModel(id) {
  Object.assign(app.state, { m: id, w: '', tok: '', start: '', ctx: '' });
  const carried = carryTo(id);
  if (carried) Object.assign(app.state, carried);
  writeHash();
  switchModel();
}

// The light model ran because the device looked slow, and its first decode was quick: offer the
// default model (models.js largerOffer), said with the measured time.
function offerLargerModel(ms) {
  const offer = largerOffer(app.manifest, app.model, app.state, ms);
  if (!offer) return;
  const text = `${$('notice').textContent} This device decoded it in ${(ms / 1000).toFixed(1)} s, quick enough for the `
    + `${offer.name.toLowerCase()} model: better pictures in about ${Math.max(1, Math.round(offer.estimateMs / 1000))} s, after ${offer.mb.toFixed(1)} MB more to download.`;
  showNotice(text.trim(), { label: `Use the ${offer.name.toLowerCase()} model`, onClick: () => selectModel(offer.id) });
  app.metrics.offered = offer.id;
}

// ---------------------------------------------------------------- image → Animate
// An image model's finished emoji can be animated by a clip model of the same tokenizer: its
// codes become the clip's given frame (ctx=, in the link) and its class the clips' class.
function carryTo(id) {
  const to = app.manifest && app.manifest.models.find((m) => m.id === id);
  const run = app.runs[app.main];
  if (!to || to.kind !== 'clip' || animate.on || !run || !run.trace) return null;
  const b = Math.min(app.selected, run.trace.tokens.length - 1);
  const ctx = carriedFrame({ fromTokenizer: app.model.tokenizer, toTokenizer: to.tokenizer, codes: run.trace.tokens[b], config: app.config });
  if (!ctx) return null;
  const cls = run.request.classes[b];
  app.carried = ctx;
  return { ctx, cls: cls >= app.config.classes ? 'null' : String(cls) };
}
function animateTarget() {
  const run = app.runs[app.main];
  if (!app.config || animate.on || !run || !run.trace || !app.manifest) return null;
  return animateModelFor(app.manifest, app.model.tokenizer, app.device);
}
function showAnimateThis() {
  const to = animateTarget();
  $('animate-this').hidden = !to;
  $('animate-help').hidden = !to;
  if (to) $('animate-this').textContent = `Animate emoji ${app.selected + 1} ▶`;
}
$('animate-this').onclick = () => { const to = animateTarget(); if (to) selectModel(to.id); };
$('grid-main').addEventListener('click', (ev) => {
  const cell = ev.target.closest('.cell');
  if (!cell || animate.on || $('animate-this').hidden) return;
  app.selected = [...$('grid-main').children].indexOf(cell);
  showAnimateThis();
  render();
});

main().catch((e) => fatal(String(e && e.message ? e.message : e), ErrorKind.other));
