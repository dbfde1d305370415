// Which model the page runs. models/manifest.json lists the shipped models that were staged
// (scripts/build-web.sh, from models/models.json): {default, models: [{id, name, about, light,
// weights, tokenizer, sampling}]}. Pure functions: tests/browser/models.test.mjs runs them in node.
//
// How the starting model is picked:
//   1. a link's explicit files (w=…, tok=…) win: a researcher's own weights;
//   2. else a link's model (m=ID) when the manifest has it;
//   3. else (m=auto) the default model on a hardware GPU, and the first `light` model on the
//      CPU fallback or a software GPU (SwiftShader, lavapipe), where the default would take
//      many seconds per decode; if the light model's first decode shows the device is quick,
//      the page offers the default (largerOffer).

import { Bundle } from './protocol.js';
import { manifestEntry } from './assets.js';

export const AUTO = 'auto';

// The models the page can offer (a manifest without the list: none, and the page loads FILES).
export const listModels = (manifest) => (manifest && Array.isArray(manifest.models) ? manifest.models : []);
export const FILES = Object.freeze({ weights: 'models/magnets-emoji.safetensors', tokenizer: 'models/tokenizer.safetensors' });

// state: {m, w, tok} of the URL (state.js; w and tok are '' unless a link names files).
// device: {bundle: Bundle.webgpu | Bundle.cpu, software: bool} from the worker's probe.
// Returns {id, weights, tokenizer, why, instead, problem}: id null for a link's own weights; `why`
// is a sentence for the page and `instead` the id of the model passed over, when the model was
// chosen for the device; `problem` when the link's model is not offered.
export function pickModel(manifest, state, device) {
  const models = listModels(manifest);
  const byId = (id) => models.find((m) => m.id === id);
  if (state.w) {
    // A link's own weights decode with its tokenizer, else the shipped one they were made with
    // (the same file as a shipped model), else the default model's.
    const same = models.find((m) => m.weights === state.w) || byId(manifest && manifest.default) || models[0];
    return {
      id: same && same.weights === state.w ? same.id : null,
      weights: state.w,
      tokenizer: state.tok || (same ? same.tokenizer : FILES.tokenizer),
      why: null,
      problem: null,
    };
  }
  if (!models.length) return { id: null, weights: FILES.weights, tokenizer: state.tok || FILES.tokenizer, why: null, problem: null };
  let problem = null;
  if (state.m !== AUTO) {
    const wanted = byId(state.m);
    if (wanted) return { id: wanted.id, weights: wanted.weights, tokenizer: state.tok || wanted.tokenizer, why: null, problem: null };
    problem = `model “${state.m}” is not offered here (${models.map((m) => m.id).join(', ')}); picking one for this device`;
  }
  const preferred = byId(manifest.default) || models[0];
  const slow = isSlow(device);
  const light = models.find((m) => m.light && (m.kind || 'image') === (preferred.kind || 'image'));
  const pick = slow && light ? light : preferred;
  const why = pick !== preferred
    ? `Running the ${pick.name.toLowerCase()} model because ${device.bundle !== Bundle.webgpu ? 'the CPU fallback' : 'a software GPU'} runs here; the ${preferred.name.toLowerCase()} model is in the Model menu.`
    : null;
  return { id: pick.id, weights: pick.weights, tokenizer: state.tok || pick.tokenizer, why, instead: pick !== preferred ? preferred.id : null, problem };
}

// The CPU fallback and software GPUs (SwiftShader, lavapipe): seconds per decode for the
// larger models.
const isSlow = (device) => !device || device.bundle !== Bundle.webgpu || isSoftwareGpu(device);

// A WebGPU adapter that emulates a GPU on the CPU (the worker's probe says `software`).
export const isSoftwareGpu = (device) => !!(device && device.bundle === Bundle.webgpu && device.software);

// Which engine runs a model here. A software GPU (SwiftShader, lavapipe) emulates WebGPU on the
// CPU with a large fixed cost per dispatch: the CPU engine (WebAssembly SIMD) decodes the same
// tokens 16–21× faster there (docs/RESULTS.md, "The CPU engine in the page"), so every model
// runs on it unless the link asks for the GPU (`gpu=1`, which the WebGPU page tests use).
export function runsOnCpu(device, state) {
  return isSoftwareGpu(device) && !(state && state.gpu);
}

// A light model runs because the device looked slow; its first decode says how slow. When that
// took at most FAST_ENOUGH_MS, the page offers the model it passed over (one click, never on its
// own: the download is several times larger), with a time estimate: on the CPU engine the
// default model's decode took DEFAULT_OVER_LIGHT times the light one's (3.43 s against 0.55 s,
// the paper's split, docs/RESULTS.md "The CPU engine in the page"), so at the threshold the
// default takes ~9 s.
export const FAST_ENOUGH_MS = 1500;
export const DEFAULT_OVER_LIGHT = 6;
// → {id, name, mb, estimateMs} of the model to offer, or null. `picked`: pickModel's answer (the
// model it passed over is `instead`); `decodeMs`: the light model's first decode.
export function largerOffer(manifest, picked, state, decodeMs) {
  if (!picked || !picked.instead || state.embed || !(decodeMs > 0) || decodeMs > FAST_ENOUGH_MS) return null;
  const preferred = listModels(manifest).find((m) => m.id === picked.instead);
  if (!preferred) return null;
  const bytes = (preferred.page_files || []).reduce((n, f) => n + ((manifestEntry(manifest, f) || {}).bytes || 0), 0);
  return { id: preferred.id, name: preferred.name, mb: bytes / 1e6, estimateMs: decodeMs * DEFAULT_OVER_LIGHT };
}

// The clip model that animates an image model's emoji: one with the same tokenizer (its codes
// are the clip's given frame), the light one on a slow device, else the first other one.
// null when none fits.
export function animateModelFor(manifest, tokenizer, device) {
  const clips = listModels(manifest).filter((m) => m.kind === 'clip' && m.tokenizer === tokenizer);
  const light = clips.find((m) => m.light);
  const full = clips.find((m) => !m.light);
  return (isSlow(device) ? light || full : full || light) || null;
}

// The sampling settings of a model without its own (src/sampling.rs SamplingParams::default).
export const FALLBACK_SAMPLING = Object.freeze({ temperature: 1, tau: 4.5, guidance: 0, guidance_schedule: 'constant' });

// The sampling settings a decode uses, as the page state names them ({temp, tau, g, gs}): each one
// the link or the controls set, else the model's own (`sampling` in models/models.json, chosen
// per model on the selection seed; its eval table is measured with them), else the fallback.
// `entry` is the running model's manifest entry, or null for a link's own weights.
export function samplingFor(state, entry) {
  const m = { ...FALLBACK_SAMPLING, ...(entry && entry.sampling) };
  return { temp: state.temp ?? m.temperature, tau: state.tau ?? m.tau, g: state.g ?? m.guidance, gs: state.gs ?? m.guidance_schedule };
}

// The Model menu's entries: [{id, label, title, selected}].
export function modelMenu(manifest, selectedId) {
  return listModels(manifest).map((m) => ({
    id: m.id,
    label: m.name + (m.id === manifest.default ? ' (default)' : ''),
    title: m.about,
    selected: m.id === selectedId,
  }));
}
