// Page state <-> URL hash. Every field is parsed on its own: a bad value gives a readable
// problem and the default for that field, never a broken page.

export const DEFAULTS = Object.freeze({
  schedule: 'magnets',  // a schedule string (S3M3L3XL3) or a preset name
  steps: 12,
  cache: 'on',          // off | on | on:K
  cls: 'mix',           // mix | null | class index
  seed: 1,
  temp: null,            // sampling: null = the model's setting (models.js samplingFor)
  tau: null,
  g: null,
  gs: null,              // guidance schedule: constant | linear (a ramp, s·t/T); null = the model's
  cmp: false,
  embed: false,
  speed: 1,
  m: 'auto',             // a shipped model's id (models.js), or auto: picked for the device
  w: '',                 // a link's own weights / tokenizer file (models/…); '' = the model's
  tok: '',
  cpu: false,            // the CPU engine even where WebGPU works
  gpu: false,            // WebGPU even on a software GPU (models.js runsOnCpu)
  start: '',             // Animate: held-out starts, numbers (magnets generate --start) or names; '' = the device's default
  ctx: '',               // Animate: a given frame's codes (encodeCodes); wins over `start`
});

// A given frame in a link (`ctx=`): two URL-safe base64 characters per code (12 bits: codebooks
// up to 4,096), so 64 codes are 128 characters. Whether the count and the codes fit the model is
// checked once it is loaded (animate.js).
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
export const MAX_CODE = 4095;
export function encodeCodes(codes) {
  let t = '';
  for (const c of codes) {
    if (!Number.isInteger(c) || c < 0 || c > MAX_CODE) throw new RangeError(`code ${c} is outside 0…${MAX_CODE}`);
    t += B64[c >> 6] + B64[c & 63];
  }
  return t;
}
// The codes of a `ctx=` value, or {error}.
export function decodeCodes(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return { error: 'holds characters other than A–Z a–z 0–9 - _' };
  if (!text.length || text.length % 2) return { error: `${text.length} characters; a frame is two per code` };
  const codes = [];
  for (let i = 0; i < text.length; i += 2) codes.push(B64.indexOf(text[i]) * 64 + B64.indexOf(text[i + 1]));
  return { codes };
}

// The sampling settings' ranges, as src/sampling.rs (SamplingParams::validate) accepts them: the
// link's parser and the page's number fields both check against these. (The Rust check stays
// the authority; this copy lets a link be checked before the wasm bundle has loaded.)
export const RANGES = Object.freeze({
  seed: { min: 0, max: 4294967295, int: true },
  temp: { min: 0, max: 10, int: false },  // and 0 (arg-max) or at least MIN_TEMPERATURE
  tau: { min: 0, max: 100, int: false },
  g: { min: 0, max: 20, int: false },
});
export const MIN_TEMPERATURE = 0.01;

const num = (lo, hi, int) => (v) => {
  if (!/^-?\d+(\.\d+)?$/.test(v)) return { error: `“${v}” is not a number` };
  const x = Number(v);
  if (int && !Number.isInteger(x)) return { error: `“${v}” is not a whole number` };
  if (x < lo || x > hi) return { error: `${v} is outside ${lo}…${hi}` };
  return { value: x + 0 }; // -0 → 0, so the state formats back to the same link
};
const inRange = (name) => num(RANGES[name].min, RANGES[name].max, RANGES[name].int);
const bool = (v) => (v === '1' || v === 'true' ? { value: true } : v === '0' || v === 'false' ? { value: false } : { error: `“${v}” is not 0 or 1` });
const relUrl = (v) => {
  // Same-origin, relative paths only (a shared link must not point the page elsewhere).
  if (!/^[A-Za-z0-9._\-/]+$/.test(v) || v.startsWith('/') || v.includes('..') || v.includes('//')) {
    return { error: `“${v}” is not a relative path to a file on this site` };
  }
  return { value: v };
};

// URL key → [state name, parser]. A Map, so keys such as `__proto__`, `constructor` or
// `toString` are unknown settings, never something inherited from Object.prototype.
const FIELDS = new Map(Object.entries({
  s: ['schedule', (v) => (/^[A-Za-z0-9:]{1,200}$/.test(v) ? { value: v } : { error: `“${v}” is not a schedule like S3M3L3XL3` })],
  T: ['steps', num(1, 1024, true)],
  c: ['cache', (v) => (/^(off|on|on:[1-9]\d{0,3})$/.test(v) ? { value: v } : { error: `cache “${v}” must be off, on or on:K` })],
  cls: ['cls', (v) => (/^(mix|null|\d{1,4})$/.test(v) ? { value: v } : { error: `class “${v}” must be mix, null or a class number` })],
  seed: ['seed', inRange('seed')],
  // 0 is arg-max; below MIN_TEMPERATURE, 1/T overflows in the sampler.
  temp: ['temp', (v) => {
    const r = inRange('temp')(v);
    return r.value > 0 && r.value < MIN_TEMPERATURE ? { error: `temperature ${v} must be 0 or at least ${MIN_TEMPERATURE}` } : r;
  }],
  tau: ['tau', inRange('tau')],
  g: ['g', inRange('g')],
  gs: ['gs', (v) => (v === 'constant' || v === 'linear' ? { value: v } : { error: `guidance schedule “${v.slice(0, 40)}” must be constant or linear` })],
  cmp: ['cmp', bool],
  embed: ['embed', bool],
  speed: ['speed', num(0.25, 8, false)],
  m: ['m', (v) => (/^[a-z0-9][a-z0-9-]{0,39}$/.test(v) ? { value: v } : { error: `model “${v}” is not a model name like small` })],
  w: ['w', relUrl],
  tok: ['tok', relUrl],
  cpu: ['cpu', bool],
  gpu: ['gpu', bool],
  start: ['start', (v) => (/^[A-Za-z0-9_-]{1,40}(,[A-Za-z0-9_-]{1,40}){0,7}$/.test(v) ? { value: v } : { error: `“${v.slice(0, 40)}” is not a list of up to 8 clip numbers or names` })],
  ctx: ['ctx', (v) => {
    const r = decodeCodes(v);
    return r.error ? { error: `the given frame ${r.error}` } : v.length > 2 * 256 ? { error: 'is longer than a frame of 256 codes' } : { value: v };
  }],
}));

// How a problem names a default that is an empty string.
const DEFAULT_WORDS = { temp: 'the model’s setting', tau: 'the model’s setting', g: 'the model’s setting', gs: 'the model’s setting', w: 'the shipped file', tok: 'the shipped file', start: 'the default starts', ctx: 'the held-out starts' };

// Returns {state, problems[]}.
export function parseHash(hash) {
  const state = { ...DEFAULTS };
  const problems = [];
  let text = (hash || '').replace(/^#/, '');
  if (!text) return { state, problems };
  if (text.length > 2000) return { state, problems: ['the link’s settings are too long; using the defaults'] };
  for (const part of text.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    let key, raw;
    try {
      key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
      raw = eq < 0 ? '1' : decodeURIComponent(part.slice(eq + 1));
    } catch (_) {
      problems.push(`“${part.slice(0, 40)}” is not valid URL text`);
      continue;
    }
    const field = FIELDS.get(key);
    if (!field) { problems.push(`unknown setting “${key.slice(0, 40)}”`); continue; }
    const r = field[1](raw);
    if (r.error) problems.push(`${key}: ${r.error}; using ${DEFAULT_WORDS[field[0]] || String(DEFAULTS[field[0]])}`);
    else state[field[0]] = r.value;
  }
  return { state, problems };
}

export function formatHash(state, { includeDefaults = false } = {}) {
  const parts = [];
  for (const [key, [name]] of FIELDS) {
    const v = state[name];
    if (!includeDefaults && v === DEFAULTS[name]) continue;
    const text = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    parts.push(`${key}=${encodeURIComponent(text).replace(/%2C/g, ',')}`); // a list's commas stay readable
  }
  return parts.join('&');
}

// One class id per image: `mix` cycles through the classes, `null` is unconditional.
export function classesFor(cls, config, images) {
  if (cls === 'null') return Array(images).fill(config.classes);
  if (cls === 'mix') return Array.from({ length: images }, (_, i) => i % config.classes);
  const c = Number(cls);
  return Array(images).fill(c);
}
