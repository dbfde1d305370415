// The settings panel and the page's keys: presets, the schedule text and step count, cache,
// class, sampling settings, compare, links, and the wiring of the transport, chart and budget.
// Every change goes into the page state (app.state) and through the page's own
// applyStateToControls, which checks it against the model and shows it everywhere.
import { DEFAULTS, RANGES } from './state.js';
import { TUNED_PICKS, evalRow } from './assets.js';
import { seqTokens, givenTokens, isClipModel } from './protocol.js';

// Steps a decode may take: each step unmasks at least one of the generated tokens.
const maxSteps = (config) => seqTokens(config) - givenTokens(config);

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};

// The controls that depend on the model: classes, a preset per width, the step limit, the
// width legend, and the "Tuned" preset of the eval table (null: none).
export function buildModelControls(config, evalTable) {
  const sel = $('class');
  sel.replaceChildren();
  sel.append(new Option(isClipModel(config) ? 'each start’s own' : 'mix (one of each)', 'mix'));
  config.class_names.forEach((n, i) => sel.append(new Option(n, String(i))));
  sel.append(new Option('unconditional', 'null'));
  const cp = $('const-presets');
  cp.replaceChildren();
  config.width_names.forEach((n, i) => {
    const b = el('button', null, n + ' only');
    b.dataset.preset = 'const:' + n;
    b.dataset.cache = 'on';
    b.title = `constant ${n} (width ${config.widths[i]})`;
    cp.append(b);
  });
  addTunedPresets(evalTable);
  $('steps').max = String(maxSteps(config));
  const leg = $('timeline-legend');
  leg.replaceChildren();
  config.width_names.forEach((n, i) => {
    const s = el('span');
    const sw = el('i', 'sw');
    sw.style.background = `var(--w${Math.min(i, 5)})`;
    s.append(sw, `${n} = width ${config.widths[i]}`);
    leg.append(s);
  });
  const extra = [['↻', 'cache refresh (all rows)'], ['▬', 'rows processed'], ['▮', 'FLOPs (dashed: baseline)']];
  for (const [sym, text] of extra) leg.append(el('span', 'extra', `${sym} ${text}`));
  const ms = el('span', 'extra');
  ms.append(el('i', 'ms-key', '▮'), ' ms measured (dashed: the baseline in compare mode)');
  leg.append(ms);
}

// "Tuned" and "Tuned 4×": the schedules the eval table names as the best measured trade-off for
// these exact weights at ≥ 3× and ≥ 4× less compute (scripts/eval-table.mjs), each shown only
// when its row was measured, and once when the two are the same schedule.
function addTunedPresets(t) {
  const group = document.querySelector('.presets:not(.constant)');
  group.querySelectorAll('[data-tuned]').forEach((b) => b.remove());
  const shown = [];
  for (const [key, name] of TUNED_PICKS) {
    const tuned = t && t[key];
    if (!tuned || typeof tuned.schedule !== 'string' || shown.includes(tuned.schedule)) continue;
    const row = evalRow(t, tuned);
    if (!row || !(row.flops_ratio > 0)) continue;
    const b = el('button', null, name);
    b.dataset.preset = tuned.schedule;
    b.dataset.cache = tuned.cache;
    b.dataset.tuned = key;
    b.title = `${tuned.schedule}: ${row.flops_ratio.toFixed(1)}× less compute than the baseline; ${tuned.chosen || 'tuned for this model'}`;
    group.append(b);
    shown.push(tuned.schedule);
  }
}

// Shows the state in every control: `widths` is the resolved schedule, `text` its canonical text,
// `sampling` the settings decodes use ({temp, tau, g, gs}: the state's, else the model's).
export function applyStateToControls(s, widths, text, sampling) {
  $('schedule-text').value = text;
  $('schedule-text').classList.remove('bad');
  $('schedule-help').classList.remove('bad');
  $('schedule-help').textContent = 'runs of width names with step counts, e.g. S3M3L3XL3';
  $('steps').value = String(widths.length);
  const cacheOn = s.cache !== 'off';
  $('cache-on').checked = cacheOn;
  $('refresh').value = s.cache.startsWith('on:') ? s.cache.slice(3) : '0';
  $('refresh').disabled = !cacheOn;
  $('class').value = s.cls;
  $('seed').value = String(s.seed);
  for (const key of ['temp', 'tau', 'g']) $(key).value = String(sampling[key]);
  $('gs').value = sampling.gs;
  $('gs').disabled = !(sampling.g > 0); // without guidance there is nothing to ramp
  $('compare').checked = s.cmp;
  $('speed').value = String(s.speed);
  if (![...$('speed').options].some((o) => o.value === String(s.speed))) $('speed').append(new Option(s.speed + '×', String(s.speed), true, true));
  document.querySelectorAll('.presets button[data-preset]').forEach((b) => {
    const on = b.dataset.preset === s.schedule && (!b.dataset.cache || b.dataset.cache === s.cache);
    b.classList.toggle('active', on);
    b.setAttribute('aria-pressed', String(on));
  });
  $('watch-steps').textContent = String(widths.length);
  $('watch-anim-steps').textContent = String(widths.length);
}

// Wires every control once. `ctx` is the page: {app, transport, applyStateToControls,
// scheduleGenerate, generate, writeHash, render, onBudget(slider position), onHashChange, replot,
// selectModel(id), sampling() (the settings decodes use now)}.
export function setupControls(ctx) {
  const { app, transport } = ctx;
  // A change of the state: show it, and decode it shortly (edits in a row decode once).
  const changed = () => { ctx.applyStateToControls(); ctx.scheduleGenerate(); };
  $('play').onclick = () => transport.toggle();
  $('prev').onclick = () => transport.step(-1);
  $('next').onclick = () => transport.step(1);
  $('scrub').oninput = () => transport.seek(Number($('scrub').value));
  $('speed').onchange = () => {
    app.state.speed = Number($('speed').value);
    ctx.writeHash();
    if (transport.playing) transport.play();
  };
  document.addEventListener('keydown', (ev) => {
    if (ev.target.closest('input, select, textarea, #timeline, #tradeoff-plot')) return;
    if (ev.key === 'ArrowLeft') transport.step(-1);
    else if (ev.key === 'ArrowRight') transport.step(1);
    else if (ev.key === ' ' && !ev.target.closest('button')) { ev.preventDefault(); transport.toggle(); }
  });
  document.querySelectorAll('.presets').forEach((group) => group.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-preset]');
    if (!b || !app.config) return;
    app.state.schedule = b.dataset.preset;
    app.state.steps = app.schedule.length || DEFAULTS.steps;
    // A preset is a schedule and a cache policy: the MaskGIT baseline recomputes every row.
    if (b.dataset.cache) app.state.cache = b.dataset.cache;
    changed();
  }));
  const pickPoint = (ev) => {
    const p = ev.target.closest('#tradeoff-plot .pt');
    if (!p || !app.config) return;
    app.state.schedule = p.dataset.schedule;
    app.state.cache = p.dataset.cache;
    changed();
  };
  $('tradeoff-plot').addEventListener('click', pickPoint);
  $('tradeoff-plot').addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); pickPoint(ev); } });
  if (typeof ResizeObserver !== 'undefined') new ResizeObserver(ctx.replot).observe($('tradeoff'));
  $('budget').addEventListener('input', () => ctx.onBudget(Number($('budget').value)));
  $('schedule-text').onchange = () => {
    if (!app.config) return;
    const text = $('schedule-text').value.trim();
    try {
      app.state.schedule = app.planner.resolve(text, 0).schedule;
      changed();
    } catch (e) {
      $('schedule-text').classList.add('bad');
      $('schedule-help').classList.add('bad');
      $('schedule-help').textContent = String(e.message || e);
      $('schedule-help').dataset.errorKind = e.name || '';
    }
  };
  $('steps').onchange = () => {
    if (!app.config) return;
    const n = Number($('steps').value);
    const max = maxSteps(app.config);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      $('steps').classList.add('bad');
      $('schedule-help').classList.add('bad');
      $('schedule-help').textContent = `steps must be a whole number from 1 to ${max} (each step unmasks at least one of the ${max} tokens)`;
      return;
    }
    $('steps').classList.remove('bad');
    if (!app.schedulePreset) {
      // Stretch the custom schedule to the new length.
      const old = app.schedule;
      app.state.schedule = app.planner.format(Array.from({ length: n }, (_, i) => old[Math.min(old.length - 1, Math.floor((i * old.length) / n))]));
    }
    app.state.steps = n;
    changed();
  };
  const cacheChanged = () => {
    const on = $('cache-on').checked;
    const k = Number($('refresh').value);
    app.state.cache = !on ? 'off' : Number.isInteger(k) && k >= 1 && k <= 1024 ? `on:${k}` : 'on';
    changed();
  };
  $('cache-on').onchange = cacheChanged;
  $('refresh').onchange = cacheChanged;
  // The sampling settings: the ranges the link is checked against (state.js RANGES), and the
  // sampler's own check (Rust) once the model is loaded.
  for (const key of ['seed', 'temp', 'tau', 'g']) {
    const input = $(key), { min, max, int } = RANGES[key];
    input.min = String(min);
    input.max = String(max);
    input.onchange = () => {
      const v = Number(input.value);
      let why = null;
      if (input.value === '' || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) why = `${min} to ${max}`;
      else if (key !== 'seed' && app.planner) {
        try { app.planner.checkSampling({ ...ctx.sampling(), [key]: v }); } catch (e) { why = e.message; }
      }
      input.dataset.problem = why || '';
      if (why) {
        input.classList.add('bad');
        input.title = why;
        return;
      }
      input.classList.remove('bad');
      app.state[key] = v;
      changed();
    };
  }
  $('gs').onchange = () => { app.state.gs = $('gs').value; changed(); };
  $('class').onchange = () => { app.state.cls = $('class').value; changed(); };
  $('model').onchange = () => ctx.selectModel($('model').value);
  $('reseed').onclick = () => { app.state.seed = Math.floor(Math.random() * 1e6); changed(); };
  $('generate').onclick = () => ctx.generate();
  $('compare').onchange = () => { app.state.cmp = $('compare').checked; changed(); };
  // Without clipboard access (no permission, plain http) the text is selected in `box` instead.
  const copy = async (text, button, box = $('embed-code')) => {
    const old = button.textContent;
    try { await navigator.clipboard.writeText(text); button.textContent = 'Copied ✓'; }
    catch (_) { box.value = text; box.select(); button.textContent = 'Select + copy ↓'; }
    setTimeout(() => (button.textContent = old), 1500);
  };
  $('copy-link').onclick = () => copy(location.href, $('copy-link'));
  $('copy-embed').onclick = () => copy($('embed-code').value, $('copy-embed'));
  $('copy-cli').onclick = () => copy($('cli-code').value, $('copy-cli'), $('cli-code'));
  window.addEventListener('hashchange', ctx.onHashChange);
  $('overlay').onchange = () => ctx.render();
  for (const id of ['grid-main', 'grid-base']) {
    $(id).addEventListener('pointerenter', () => { app.hoverGrid = id; ctx.render(); });
    $(id).addEventListener('pointerleave', () => { if (app.hoverGrid === id) app.hoverGrid = null; ctx.render(); });
  }
}
