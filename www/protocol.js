// What the page and its engine worker (worker.js) say to each other: the message type names,
// why the CPU engine runs, the kinds of failure, and the per-token states of a decode step.
// Both sides import these names, so a message spelt differently on one side is a load error,
// not a message nobody answers. Messages are plain objects {type: Msg.X, …}:
//
//   page → worker
//     Msg.probe             {forceCpu}   which engine can run here, before a model is chosen
//     Msg.init              {weights, tokenizer, forceCpu, preferCpu, batch}  (URLs of the model files; preferCpu: a software GPU, so the CPU engine)
//     Msg.generate          {runs: [{id, request}]}  request = PageRequest (src/web/mod.rs)
//     Msg.cancelImages      {}   drop the image work of earlier generations
//     Msg.decodeCodes       {id, codes}  code grids → pixels (frame_tokens codes each: the Animate
//                                        picker's start frames), answered by Msg.codesDecoded
//     Msg.simulateDeviceLoss {}  test hook: destroy the GPU device as a driver reset would
//   worker → page
//     Msg.probed   {bundle, software, adapter}   software: a software GPU adapter (SwiftShader…)
//     Msg.status   {text}                      Msg.progress {what, loaded, total, cached}
//     Msg.ready    {info, bundle, fallback, note}   fallback: {code: Fallback.X, detail} on the CPU engine
//     Msg.recovered {info, bundle, note}       the GPU device was lost; a new engine is ready and
//                                              the interrupted generation was dropped
//     Msg.fatal    {message, kind}             the demo cannot run
//     Msg.step     {id, step}                  Msg.done {id, trace}
//     Msg.error    {id, message, kind, images} images: true when decoding pixels failed
//     Msg.images   {id, index, rgba, batch, size}   Msg.imagesDone {id}
//                  (batch: images, one per frame: a clip model's run of B clips has B·frames)
//     Msg.codesDecoded {id, rgba, batch, size}  or {id, error} when it failed

export const Msg = Object.freeze({
  probe: 'probe',
  probed: 'probed',
  init: 'init',
  generate: 'generate',
  cancelImages: 'cancel-images',
  decodeCodes: 'decode-codes',
  codesDecoded: 'codes-decoded',
  simulateDeviceLoss: 'simulate-device-loss',
  status: 'status',
  progress: 'progress',
  ready: 'ready',
  recovered: 'recovered',
  fatal: 'fatal',
  step: 'step',
  done: 'done',
  error: 'error',
  images: 'images',
  imagesDone: 'images-done',
});

// Which engine runs (the wasm bundle's bundle_kind()).
export const Bundle = Object.freeze({ webgpu: 'webgpu', cpu: 'cpu' });

// The CPU bundle's kernels are WebAssembly SIMD128 (every browser since 2023 has it). This module
// (one function: i32.const 0, i8x16.splat, i8x16.popcnt) validates exactly where SIMD does, so
// a browser without it is told why instead of getting a compile error.
export const SIMD_PROBE = Object.freeze([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
export const hasWasmSimd = () => typeof WebAssembly === 'object' && WebAssembly.validate(Uint8Array.from(SIMD_PROBE));

// Why the CPU engine runs instead of WebGPU (the page words a sentence for each).
export const Fallback = Object.freeze({
  noWebgpu: 'no-webgpu',
  noAdapter: 'no-adapter',
  adapterError: 'adapter-error',
  engineFailed: 'engine-failed',
  requested: 'requested',
  softwareGpu: 'software-gpu', // a software GPU, where the CPU engine is quicker (models.js runsOnCpu)
});

// The `name` of an error thrown by the wasm bundle is the kind of the Rust error
// (magnets::Error::kind, pinned by tests/error_kinds.rs; tests/browser/wasm.test.mjs checks this
// copy against the bundle). The worker adds the kinds of failure that happen outside Rust.
export const ErrorKind = Object.freeze({
  // from Rust
  badConfig: 'bad-config',
  badWeights: 'bad-weights',
  badSchedule: 'bad-schedule',
  badRequest: 'bad-request',
  engineFailed: 'engine-failed',
  badData: 'bad-data',
  nonFinite: 'non-finite',
  io: 'io',
  other: 'other',
  cancelled: 'cancelled',
  deviceLost: 'device-lost',
  // from the worker
  downloadFailed: 'download-failed',
  crashed: 'crashed',        // a Rust panic aborted the module; only a reload helps
  notReady: 'not-ready',
});

// The kinds the Rust side defines, in its order (what the bundle's protocol_constants() lists).
export const RUST_ERROR_KINDS = Object.freeze([
  ErrorKind.badConfig, ErrorKind.badWeights, ErrorKind.badSchedule, ErrorKind.badRequest,
  ErrorKind.engineFailed, ErrorKind.badData, ErrorKind.nonFinite, ErrorKind.io, ErrorKind.other,
  ErrorKind.cancelled, ErrorKind.deviceLost,
]);

// A failure a model file causes fails the same way on every engine: it is reported as it is,
// never a reason to try the CPU engine instead.
export const isBadModelFile = (kind) => kind === ErrorKind.badWeights || kind === ErrorKind.badConfig;

// An Error of a given kind (for failures the worker itself detects).
export function kindError(kind, message) {
  const e = new Error(message);
  e.name = kind;
  return e;
}

// The kind of a caught value: an Error's name when it is one of ours, else `other`.
const KNOWN = new Set(Object.values(ErrorKind));
export const kindOf = (e) => (e && KNOWN.has(e.name) ? e.name : ErrorKind.other);

// Per-token state in a step's `states` grid (src/decode.rs STATE_*).
export const TokenState = Object.freeze({ masked: 0, fixedNow: 1, fixedEarlier: 2, given: 3 });

// Sizes of an engine's config (info.config, src/config.rs): `frames` and `context_frames` are
// there only for a clip model (absent: one frame, none given).
export const frameCount = (config) => config.frames || 1;
export const frameTokens = (config) => config.grid[0] * config.grid[1];
export const seqTokens = (config) => frameTokens(config) * frameCount(config);
export const givenTokens = (config) => frameTokens(config) * (config.context_frames || 0);
export const isClipModel = (config) => frameCount(config) > 1;
