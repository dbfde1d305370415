// Animate mode: a clip model (frame prediction, models.json kind "clip") is given a clip's first
// frame and predicts the other frames with the same decode loop, schedules, KV cache and trace
// as the image models. Everything the page does differently for clips lives here:
//   - the starts: the held-out clips' first frames (models/NAME.starts.json, written by
//     scripts/stage-models.mjs), or a frame the link carries (`ctx=`, e.g. the emoji the visitor
//     just generated with an image model of the same tokenizer);
//   - the request: one clip per start, its given frame as the context, its category as class;
//   - where clips run: the CPU engine on a software GPU, unless the link says gpu=1;
//   - the clip view: per clip a player that loops the frames and the strip of its frames, each
//     painted at the shown step with the token states (the given frame marked as given), and
//     under it the real clip's frames when the start is a held-out clip;
//   - the start picker.
// The pure functions at the top run in node (tests/browser/animate.test.mjs).
import { TokenState, frameCount, frameTokens, givenTokens, isClipModel, seqTokens } from './protocol.js';
import { decodeCodes, encodeCodes } from './state.js';
import { paintCell, countStates } from './cells.js';
import { manifestEntry, versionedUrl } from './assets.js';
import { isSoftwareGpu, runsOnCpu } from './models.js';

export const FPS = 7;                 // the finished clip's playback (the data: 8 frames over ~1 s loops)
export const MAX_CLIPS = 8;           // a link may list this many starts
// The first starts shown (held-out clips with clear motion: every one changes over half its
// tokens between the first and a later frame).
export const DEFAULT_STARTS = Object.freeze(['penguin', 'sun_with_face', 'alarm_clock', 'tropical_fish']);

// Clips per decode on this device. Measured here (2 busy cores): the CPU engine decodes four in
// ~0.56 s per step; WebGPU on SwiftShader takes ~2.6 s per step for two, so two there.
export function clipsFor(device, state) {
  return isSoftwareGpu(device) && !runsOnCpu(device, state) ? 2 : 4;
}

// A starts file against the model and its tokenizer: null when it fits, else why not.
export function startsProblem(file, config, tokenizerSha) {
  if (!file || !Array.isArray(file.starts) || !file.starts.length) return 'the start list is empty or unreadable';
  if (file.codebook !== config.codebook || !file.grid || file.grid[0] !== config.grid[0] || file.grid[1] !== config.grid[1]) {
    return `the start list is for ${file.codebook} codes on a ${file.grid} grid; the model has ${config.codebook} on ${config.grid}`;
  }
  if (tokenizerSha && file.tokenizer_sha256 && file.tokenizer_sha256 !== tokenizerSha) return 'the start list was made with another tokenizer';
  const n = givenTokens(config);
  const codesOk = (codes, count) => Array.isArray(codes) && codes.length === count && codes.every((c) => c >= 0 && c < config.codebook);
  if (file.starts.some((s) => !codesOk(s.codes, n))) return `a start does not hold ${n} codes of the codebook`;
  // The real clip's other frames are optional (shown beside the prediction when present).
  const rest = seqTokens(config) - n;
  if (file.starts.some((s) => s.future != null && !codesOk(s.future, rest))) return `a start's real frames do not hold ${rest} codes of the codebook`;
  return null;
}

// The class of a clip: `cls` mix = the start's own category (a carried frame has none:
// unconditional), null = unconditional, else that class.
function classOf(cls, label, config) {
  if (cls === 'null') return config.classes;
  if (cls === 'mix') return label == null ? config.classes : label;
  return Number(cls);
}

// The starts' numbers a link's `start=` names (numbers or names, as `magnets generate --start`).
export function parseStartList(text, starts) {
  const picks = [], problems = [];
  for (const item of (text || '').split(',').filter(Boolean)) {
    const n = /^\d+$/.test(item) ? Number(item) : starts.findIndex((s) => s.name.toLowerCase() === item.toLowerCase());
    if (n >= 0 && n < starts.length) { if (!picks.includes(n)) picks.push(n); }
    else problems.push(/^\d+$/.test(item) ? `start ${item}: there are ${starts.length} starts (0…${starts.length - 1})` : `start “${item}”: no held-out clip of that name`);
  }
  return { picks: picks.slice(0, MAX_CLIPS), problems };
}

// The default starts: DEFAULT_STARTS, then the list's first clips, `count` in all.
export function defaultStarts(starts, count) {
  const picks = parseStartList(DEFAULT_STARTS.join(','), starts).picks;
  for (let i = 0; picks.length < count && i < starts.length; i++) if (!picks.includes(i)) picks.push(i);
  return picks.slice(0, count);
}

// What to decode for the page state: {clips: [{start, name, context, cls}], carried, problems}.
// A valid `ctx` gives `count` clips of that frame (different futures: each clip draws its own
// random numbers); otherwise the link's starts, else the default ones.
export function resolveClips(state, file, config, count) {
  const problems = [];
  const starts = file.starts;
  if (state.ctx) {
    const r = decodeCodes(state.ctx);
    const n = givenTokens(config);
    let why = r.error;
    if (!why && r.codes.length !== n) why = `holds ${r.codes.length} codes; this model’s given frame has ${n}`;
    if (!why && r.codes.some((c) => c >= config.codebook)) why = `has a code outside the codebook 0…${config.codebook - 1}`;
    if (!why) {
      const clips = Array.from({ length: count }, (_, i) => ({ start: null, name: `your emoji · future ${i + 1}`, context: r.codes, cls: classOf(state.cls, null, config), future: null }));
      return { clips, carried: true, problems };
    }
    problems.push(`the link’s given frame (ctx) ${why}; showing held-out starts instead`);
  }
  let { picks, problems: p } = parseStartList(state.start, starts);
  problems.push(...p);
  if (!picks.length) picks = defaultStarts(starts, count);
  const clips = picks.map((n) => ({
    start: n, name: starts[n].name.replace(/_/g, ' '), context: starts[n].codes, cls: classOf(state.cls, starts[n].label, config),
    future: starts[n].future || null,
  }));
  return { clips, carried: false, problems };
}

// The picker's answer to a click on start `n`: the new `start` list. A start already shown is
// taken out (never the last one); a new one is added, the oldest dropped beyond `count`.
export function toggleStart(current, n, count) {
  if (current.includes(n)) return current.length > 1 ? current.filter((x) => x !== n) : current;
  return [...current, n].slice(-Math.max(1, count));
}

// The codes an image model's finished image hands to Animate (`ctx=`), or null when that model's
// tokenizer is not the clip model's (its codes would mean other pictures).
export function carriedFrame({ fromTokenizer, toTokenizer, codes, config }) {
  if (!fromTokenizer || fromTokenizer !== toTokenizer || !codes || codes.length !== frameTokens(config)) return null;
  return encodeCodes(codes);
}

// ---------------------------------------------------------------- the clip view
const PLAYER_PX = 192;
const FRAME_PX = 96;

// The shown step's view of frame f of clip b: {step, image} for paintCell (a one-image step).
// Before the first step a given frame shows its codes, the others are masked.
export function frameView(run, idx, b, f, config, clip) {
  const per = frameTokens(config), given = f < (config.context_frames || 0);
  const step = idx >= 0 ? run.steps[idx] : null;
  const imgs = step ? run.images.get(idx) : null;
  const image = imgs ? imgs[b * frameCount(config) + f] : null;
  if (step) {
    return { image, step: { predicted: [step.predicted[b].slice(f * per, (f + 1) * per)], states: [step.states[b].slice(f * per, (f + 1) * per)] } };
  }
  if (given && clip) return { image: null, step: { predicted: [clip.context.slice(f * per, (f + 1) * per)], states: [new Array(per).fill(TokenState.given)] } };
  return { image: null, step: null };
}

// The frames of a clip's real continuation, f = 0…F-1 (the given frames are the start's), as
// paintCell views: the codes (palette colours) until `pixels` (ImageData per frame) come.
export function realFrameView(clip, f, config, pixels) {
  const per = frameTokens(config), G = config.context_frames || 0;
  const codes = f < G ? clip.context.slice(f * per, (f + 1) * per) : clip.future.slice((f - G) * per, (f - G + 1) * per);
  return { image: (pixels && pixels[f]) || null, step: { predicted: [codes], states: [null] } };
}

// Builds one row per clip in `grid`: the player, then the frames (the given ones marked), and
// under them the real clip's frames when the start is a held-out clip.
export function buildClipGrid(grid, { clips, config }) {
  grid.replaceChildren();
  grid.classList.add('clips');
  if (!clips) return;
  const F = frameCount(config), G = config.context_frames || 0;
  clips.forEach((c, b) => {
    const row = document.createElement('div');
    row.className = 'clip';
    row.dataset.clip = String(b);
    const player = document.createElement('div');
    player.className = 'player cell';
    const pc = document.createElement('canvas');
    pc.width = PLAYER_PX; pc.height = PLAYER_PX;
    const tag = document.createElement('span');
    tag.className = 'tag';
    tag.textContent = c.name;
    tag.title = c.cls < config.classes ? `${c.name} · class ${config.class_names[c.cls]}` : `${c.name} · unconditional`;
    player.append(pc, tag);
    const strip = document.createElement('div');
    strip.className = 'strip';
    const frame = (cls, f, label, title) => {
      const fr = document.createElement('div');
      fr.className = cls;
      fr.dataset.frame = String(f);
      if (title) fr.title = title;
      const cv = document.createElement('canvas');
      cv.width = FRAME_PX; cv.height = FRAME_PX;
      fr.append(cv);
      if (label) {
        const no = document.createElement('span');
        no.className = 'fno';
        no.textContent = label;
        fr.append(no);
      }
      return fr;
    };
    for (let f = 0; f < F; f++) strip.append(frame('frame cell' + (f < G ? ' given' : ''), f, f < G ? 'given' : String(f)));
    const frames = document.createElement('div');
    frames.className = 'frames';
    frames.append(strip);
    if (c.future) {
      const real = document.createElement('div');
      real.className = 'strip real';
      real.setAttribute('aria-label', `the real ${c.name} clip`);
      for (let f = 0; f < F; f++) real.append(frame('rframe cell', f, f === 0 ? 'real' : '', `the real clip, frame ${f}`));
      frames.append(real);
      row.classList.add('has-real');
    }
    row.append(player, frames);
    grid.append(row);
  });
}

// Paints `run` at step `cur` into the clip rows of `grid` (the players at frame `frame`);
// `playersOnly` repaints just the players (the loop's tick). Returns the token-state counts.
export function paintClipGrid(grid, run, { cur, totalSteps, config, palette, peek, frame, clips, playersOnly }) {
  const finished = run.done && !run.error && cur === run.steps.length && cur === totalSteps;
  const overlay = !finished || peek;
  grid.dataset.overlay = overlay ? 'on' : 'off';
  const idx = cur - 1, F = frameCount(config), G = config.context_frames || 0;
  const totals = { masked: 0, now: 0, earlier: 0, given: 0 };
  const cell = (cv, v, withStates) => {
    const ctx = cv.getContext('2d');
    ctx.clearRect(0, 0, cv.width, cv.height);
    paintCell(ctx, 0, 0, cv.width, { grid: config.grid, codebook: config.codebook, palette, step: v.step, image: v.image, b: 0, overlay: withStates });
  };
  grid.querySelectorAll('.clip').forEach((row) => {
    const b = Number(row.dataset.clip);
    const clip = clips && clips[b];
    cell(row.querySelector('.player canvas'), frameView(run, idx, b, frame % F, config, clip), false);
    row.querySelectorAll('.frame, .rframe').forEach((fr) => fr.classList.toggle('playing', Number(fr.dataset.frame) === frame % F));
    if (playersOnly) return;
    row.querySelectorAll('.frame canvas').forEach((cv, f) => cell(cv, frameView(run, idx, b, f, config, clip), overlay && f >= G));
    const step = idx >= 0 ? run.steps[idx] : null;
    const c = countStates(step ? step.states[b] : null, F * frameTokens(config), givenTokens(config));
    for (const k of Object.keys(totals)) totals[k] += c[k];
  });
  return totals;
}

// Paints the real clips' frames in `grid` (they do not change with the step): `pixels(clip)`
// gives a clip's decoded future frames, or null while they are being decoded.
export function paintRealFrames(grid, { clips, config, palette, pixels }) {
  grid.querySelectorAll('.clip.has-real').forEach((row) => {
    const clip = clips && clips[Number(row.dataset.clip)];
    if (!clip || !clip.future) return;
    const px = pixels(clip);
    row.querySelectorAll('.rframe canvas').forEach((cv, f) => {
      const v = realFrameView(clip, f, config, px);
      const ctx = cv.getContext('2d');
      ctx.clearRect(0, 0, cv.width, cv.height);
      paintCell(ctx, 0, 0, cv.width, { grid: config.grid, codebook: config.codebook, palette, step: v.step, image: v.image, b: 0, overlay: false });
    });
  });
}

// The finished clips loop at FPS; the button plays / pauses. `tick(frame)` paints a frame.
export function createClipPlayer({ button, tick, frames }) {
  let timer = null, frame = 0;
  const say = (on) => {
    button.classList.toggle('playing', on);
    button.title = on ? 'Pause the clips' : `Play the clips (${FPS} frames a second)`;
  };
  const stop = () => { clearInterval(timer); timer = null; say(false); };
  const play = () => {
    clearInterval(timer);
    timer = setInterval(() => { frame = (frame + 1) % frames(); tick(frame); }, 1000 / FPS);
    say(true);
  };
  say(false);
  button.onclick = () => (timer ? stop() : play());
  return {
    play, stop,
    get playing() { return !!timer; },
    get frame() { return frame; },
    show(f) { frame = f; tick(frame); },
  };
}

// ---------------------------------------------------------------- the start picker
const THUMB_PX = 48;

// The picker: one button per held-out start (painted with the palette until `setPixels` gives
// its decoded first frame), and "your emoji" when the link carries a frame. `onPick(n)` gets a
// start's number; `onCarried()` the carried frame's button.
export function createPicker(box, { onPick, onCarried }) {
  let buttons = [], file = null, config = null, palette = null, pixels = null, carried = null;
  const paint = (cv, codes, image) => {
    const ctx = cv.getContext('2d');
    const step = { predicted: [codes], states: [null] };
    paintCell(ctx, 0, 0, THUMB_PX, { grid: config.grid, codebook: config.codebook, palette, step, image, b: 0, overlay: false });
  };
  const thumb = (label, title, codes, image, onclick) => {
    const b = document.createElement('button');
    b.className = 'thumb';
    b.type = 'button';
    b.title = title;
    b.setAttribute('aria-label', label);
    const cv = document.createElement('canvas');
    cv.width = THUMB_PX; cv.height = THUMB_PX;
    b.append(cv);
    b.onclick = onclick;
    paint(cv, codes, image);
    return b;
  };
  function build(opts) {
    if (opts.file !== file) pixels = null;
    ({ file, config, palette } = opts);
    carried = opts.carried || null;
    const list = box.querySelector('.thumbs');
    buttons = file.starts.map((s, n) => thumb(s.name.replace(/_/g, ' '), `${n}: ${s.name.replace(/_/g, ' ')} · ${file.categories[s.label] || ''}`, s.codes, pixels && pixels[n], () => onPick(n)));
    const extra = [];
    if (carried) {
      const c = thumb('your emoji', 'the emoji you generated: the clips predict its futures', carried, null, onCarried);
      c.classList.add('carried');
      extra.push(c);
    }
    list.replaceChildren(...extra, ...buttons);
  }
  return {
    build,
    // picks: the start numbers shown; carriedOn: the carried frame is the start.
    mark(picks, carriedOn) {
      buttons.forEach((b, n) => { const on = !carriedOn && picks.includes(n); b.classList.toggle('on', on); b.setAttribute('aria-pressed', String(on)); });
      const c = box.querySelector('.thumb.carried');
      if (c) { c.classList.toggle('on', carriedOn); c.setAttribute('aria-pressed', String(carriedOn)); }
    },
    setCarriedPixels(image) {
      const c = box.querySelector('.thumb.carried');
      if (c && carried) paint(c.querySelector('canvas'), carried, image);
    },
    setPixels(images) {
      pixels = images;
      buttons.forEach((b, n) => paint(b.querySelector('canvas'), file.starts[n].codes, images[n]));
    },
  };
}

// The starts file of a clip model (scripts/stage-models.mjs), checked against the manifest's
// hash; null when missing or not the staged file.
export async function loadStarts(manifest, path) {
  if (!path) return null;
  try {
    const entry = manifestEntry(manifest, path);
    const r = await fetch(versionedUrl(manifest, path), { cache: 'no-cache' });
    if (!r.ok) return null;
    const bytes = new Uint8Array(await r.arrayBuffer());
    if (entry && crypto.subtle) {
      const hex = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((x) => x.toString(16).padStart(2, '0')).join('');
      if (hex !== entry.sha256) return null;
    }
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (_) {
    return null;
  }
}

// ---------------------------------------------------------------- the page's Animate mode
// The page (app.js) asks this for what differs in Animate mode: {app, $, changed() (the state
// changed: show and decode it), askDecode(id, codes) (pixels, answered through onPixels)}.
export function createAnimateMode({ app, $, changed, askDecode }) {
  let file = null;       // the starts file of the loaded clip model
  let resolved = null;   // resolveClips' answer for the current state
  let picksShown = [];   // the start numbers of the clips shown
  let pixelsAsked = false;
  const realPixels = new Map(); // start number → ImageData per frame of the real clip (decoded once)
  const realAsked = new Set();
  const on = () => !!(app.config && isClipModel(app.config));
  const setStart = (fields) => { Object.assign(app.state, fields); changed(); };
  const picker = createPicker($('start-picker'), {
    onPick: (n) => setStart({ ctx: '', start: toggleStart(resolved && !resolved.carried ? picksShown : [], n, app.clips).join(',') }),
    onCarried: () => { if (app.carried) setStart({ ctx: app.carried }); },
  });
  const paintPlayers = (frame) => {
    for (const [gridId, runId] of [['grid-main', app.main], ['grid-base', app.base]]) {
      const run = app.runs[runId];
      if (run) paintClipGrid($(gridId), run, { ...paintOpts(), frame, playersOnly: true });
    }
  };
  const repaintReal = () => { for (const id of ['grid-main', 'grid-base']) paintReal($(id)); };
  const player = createClipPlayer({ button: $('clip-play'), tick: paintPlayers, frames: () => frameCount(app.config) });
  const buildPicker = () => {
    const carried = app.carried ? decodeCodes(app.carried).codes : null;
    picker.build({ file, config: app.config, palette: app.palette, carried });
    if (carried && app.info && app.info.tokenizer) askDecode('carried', carried);
  };
  const paintOpts = () => ({ cur: app.cur, totalSteps: app.schedule.length, config: app.config, palette: app.palette, clips: resolved && resolved.clips });
  const paintReal = (grid) => paintRealFrames(grid, {
    clips: resolved && resolved.clips, config: app.config, palette: app.palette, pixels: (c) => realPixels.get(c.start) || null,
  });
  // The shown held-out clips' real frames, decoded to pixels once per start (asked when a decode
  // is done, so the worker does it right after that decode's final pictures).
  const askRealPixels = () => {
    if (!resolved || !(app.info && app.info.tokenizer)) return;
    const need = resolved.clips.filter((c) => c.future && !realPixels.has(c.start) && !realAsked.has(c.start));
    if (!need.length) return;
    need.forEach((c) => realAsked.add(c.start));
    askDecode(`real:${need.map((c) => c.start).join(',')}`, need.flatMap((c) => [...c.context, ...c.future]));
  };

  return {
    get on() { return on(); },
    // Before the engine starts: the model's starts file (null for an image model).
    async load(manifest, model) {
      file = model && model.kind === 'clip' ? await loadStarts(manifest, model.starts) : null;
      pixelsAsked = false;
      resolved = null;
      realPixels.clear();
      realAsked.clear();
    },
    // The engine is ready: the mode's texts, controls and picker; a sentence when it cannot run.
    ready(tokenizerSha) {
      document.body.classList.toggle('animate', on());
      player.stop();
      if (!on()) return null;
      const why = file ? startsProblem(file, app.config, tokenizerSha) : 'the start list (models/…starts.json) did not load';
      if (why) return `Animate cannot start: ${why}.`;
      buildPicker();
      return null;
    },
    // Checks the state's starts against the model (a bad `ctx` or `start` is a problem for
    // the page, and the state is set to what will decode); true when there were problems.
    validate() {
      if (!on() || !file) return false;
      resolved = resolveClips(app.state, file, app.config, app.clips);
      picksShown = resolved.clips.map((c) => c.start).filter((n) => n != null);
      // A frame that came with the link stays in the picker as "your emoji".
      if (resolved.carried && app.carried !== app.state.ctx) { app.carried = app.state.ctx; buildPicker(); }
      if (!resolved.problems.length) return false;
      app.problems.push(...resolved.problems);
      if (!resolved.carried) Object.assign(app.state, { ctx: '', start: app.state.start ? picksShown.join(',') : '' });
      return true;
    },
    // The request fields of the state's clips: {classes, context}.
    request() {
      if (!resolved) this.validate();
      picker.mark(picksShown, resolved.carried);
      $('start-now').textContent = resolved.carried
        ? `your emoji: ${resolved.clips.length} possible futures`
        : resolved.clips.map((c) => c.name).join(', ');
      player.stop();
      player.show(0);
      return { classes: resolved.clips.map((c) => c.cls), context: resolved.clips.map((c) => c.context) };
    },
    // The decode is done: the real clips' pictures, and the picker's (the starts' first frames,
    // decoded once). The worker does them after the final grid's pictures and before the
    // other steps' (which a visitor only sees by scrubbing the timeline).
    askPixels() {
      askRealPixels();
      if (pixelsAsked || !file || !(app.info && app.info.tokenizer)) return;
      pixelsAsked = true;
      askDecode('starts', file.starts.flatMap((s) => s.codes));
    },
    onPixels(m) {
      if (!file) return;
      if (m.id.startsWith('real:')) {
        const starts = m.id.slice(5).split(',').map(Number);
        starts.forEach((n) => realAsked.delete(n));
        if (m.error) return; // the real strips keep their palette colours
        if (app.metrics.realPixelsMs == null) app.metrics.realPixelsMs = performance.now() - app.metrics.start;
        const per = m.size * m.size * 4, F = frameCount(app.config);
        starts.forEach((n, i) => realPixels.set(n, Array.from({ length: F }, (_, f) => new ImageData(new Uint8ClampedArray(m.rgba.buffer, m.rgba.byteOffset + (i * F + f) * per, per), m.size, m.size))));
        repaintReal();
        return;
      }
      if (m.error) return;
      const per = m.size * m.size * 4;
      if (m.id === 'carried') { picker.setCarriedPixels(new ImageData(new Uint8ClampedArray(m.rgba.buffer, m.rgba.byteOffset, per), m.size, m.size)); return; }
      if (m.id !== 'starts') return;
      if (app.metrics.pickerPixelsMs == null) app.metrics.pickerPixelsMs = performance.now() - app.metrics.start;
      picker.setPixels(file.starts.map((_, n) => new ImageData(new Uint8ClampedArray(m.rgba.buffer, m.rgba.byteOffset + n * per, per), m.size, m.size)));
    },
    buildGrid(grid, run) {
      buildClipGrid(grid, { clips: run && resolved ? resolved.clips : null, config: app.config });
      paintReal(grid);
    },
    paint(grid, run, peek) { return paintClipGrid(grid, run, { ...paintOpts(), peek, frame: player.frame }); },
    // The decode and its pictures are done: the clips start looping.
    finished() { if (on() && !player.playing) player.play(); },
    stop() { player.stop(); },
    get clips() { return resolved && resolved.clips; },
  };
}
