// The engine worker: loads the wasm bundle (WebGPU, or the CPU fallback), downloads the
// weights with progress (cached with the Cache API), runs decodes and decodes images.
// The messages it answers and sends are listed in protocol.js. Failures are told apart by
// their kind (the error's name: protocol.js ErrorKind), never by their wording.
import { Msg, Bundle, Fallback, ErrorKind, isBadModelFile, kindError, kindOf, frameTokens, hasWasmSimd } from './protocol.js';

const CACHE_NAME = 'magnets-weights-v1';
let wasm = null;       // the bundle's module namespace
let engine = null;     // PageEngine
let info = null;
let imageGeneration = 0;
let adapterText = '';
let latestGenerate = null;
let softwareAdapter = false;
let bundle = null;     // Bundle.webgpu | Bundle.cpu: the engine in use
let files = null;      // {weights, tokenizer} bytes, kept to rebuild the engine after a device loss

const post = (msg, transfer) => self.postMessage(msg, transfer || []);
// {message, kind} of a caught value. A Rust panic aborts the module (a RuntimeError): it is
// reported with the panic's message, and the engine is unusable from then on.
let crashed = false;
const describe = (e) => {
  const m = (e && e.message) ? e.message : String(e);
  if (e instanceof WebAssembly.RuntimeError && wasm && wasm.last_panic) {
    let p = null;
    try { p = wasm.last_panic(); } catch (_) { p = null; }
    crashed = true;
    return { message: `the engine crashed (${p || m}); reload the page`, kind: ErrorKind.crashed };
  }
  return { message: m, kind: kindOf(e) };
};
const errText = (e) => describe(e).message;

// null when WebGPU can be tried, else why not: {code: Fallback.X, detail}.
async function webgpuUsable() {
  if (!('gpu' in navigator) || !navigator.gpu) return { code: Fallback.noWebgpu, detail: 'navigator.gpu is missing' };
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { code: Fallback.noAdapter, detail: 'requestAdapter() returned none' };
    const i = adapter.info || {};
    softwareAdapter = !!(i.isFallbackAdapter || adapter.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(`${i.architecture} ${i.description} ${i.device}`));
    adapterText = [i.vendor, i.architecture, i.description].filter(Boolean).join(' ') || 'WebGPU adapter';
  } catch (e) {
    return { code: Fallback.adapterError, detail: errText(e) };
  }
  return null;
}
const whyText = (f) => `${f.code}: ${f.detail}`;

async function loadBundle(kind) {
  const path = kind === Bundle.webgpu ? './pkg/magnets.js' : './pkg-fallback/magnets.js';
  post({ type: Msg.status, text: kind === Bundle.webgpu ? 'Loading the WebGPU engine…' : 'Loading the CPU fallback engine…' });
  if (kind !== Bundle.webgpu && !hasWasmSimd()) {
    throw kindError(ErrorKind.other, 'this browser has neither WebGPU nor WebAssembly SIMD, which the CPU engine needs (Chrome 91, Firefox 89, Safari 16.4 and later have it)');
  }
  const mod = await import(path);
  await mod.default();
  return mod;
}

// Fetches a URL as bytes with progress, through the Cache API when available.
async function fetchBytes(url, what) {
  const absolute = new URL(url, self.location.href).href;
  let cache = null;
  try { if (self.caches) cache = await caches.open(CACHE_NAME); } catch (_) { cache = null; }
  if (cache) {
    const hit = await cache.match(absolute);
    if (hit) {
      const buf = new Uint8Array(await hit.arrayBuffer());
      post({ type: Msg.progress, what, loaded: buf.length, total: buf.length, cached: true });
      return buf;
    }
  }
  let resp;
  try {
    resp = await fetch(absolute);
  } catch (e) {
    throw kindError(ErrorKind.downloadFailed, `could not download the ${what} (${url}): ${errText(e)}`);
  }
  if (!resp.ok) throw kindError(ErrorKind.downloadFailed, `could not download the ${what} (${url}): HTTP ${resp.status} ${resp.statusText}`);
  const total = Number(resp.headers.get('content-length')) || 0;
  const chunks = [];
  let loaded = 0;
  const reader = resp.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    post({ type: Msg.progress, what, loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let off = 0;
  for (const c of chunks) { bytes.set(c, off); off += c.length; }
  post({ type: Msg.progress, what, loaded, total: loaded });
  return { bytes, cache, absolute };
}

async function getBytes(url, what) {
  const r = await fetchBytes(url, what);
  if (r instanceof Uint8Array) return { bytes: r, store: async () => {} };
  // Stored only after the engine accepted the file, so a corrupt download is never cached.
  return {
    bytes: r.bytes,
    store: async () => {
      if (!r.cache) return;
      try {
        await r.cache.put(r.absolute, new Response(r.bytes, { headers: { 'content-type': 'application/octet-stream' } }));
      } catch (_) { /* quota or private mode: fine */ }
    },
  };
}

// Builds the engine of `kind` from the kept files (loads that bundle first).
async function buildEngine(kind) {
  wasm = await loadBundle(kind);
  post({ type: Msg.status, text: 'Building the engine…' });
  // Copies: wasm-bindgen takes ownership of the Vec<u8>.
  return wasm.create_engine(files.weights.slice(), files.tokenizer ? files.tokenizer.slice() : undefined, files.batch);
}

// Builds a WebGPU engine when `kind` says so and it works, else the CPU fallback; sets the
// module state and returns why the CPU engine runs ({code, detail}), or null on WebGPU.
async function startEngine(kind, fallback) {
  try {
    engine = await buildEngine(kind);
  } catch (e) {
    const { message, kind: why } = describe(e);
    if (kind === Bundle.webgpu && !isBadModelFile(why)) {
      fallback = { code: Fallback.engineFailed, detail: message };
      kind = Bundle.cpu;
      engine = await buildEngine(kind);
    } else {
      throw e;
    }
  }
  bundle = kind;
  info = JSON.parse(engine.info());
  // On a software adapter (SwiftShader) the plain-Rust image decoder beats the WGSL one.
  if (kind === Bundle.webgpu && softwareAdapter && info.tokenizer) {
    engine.prefer_cpu_images(true);
    info.images = 'CPU (software GPU adapter)';
  } else {
    info.images = info.tokenizer ? (kind === Bundle.webgpu ? 'WebGPU' : 'CPU') : 'none';
  }
  if (kind === Bundle.webgpu && adapterText) info.adapter = `WebGPU · ${adapterText}`;
  return kind === Bundle.webgpu ? null : fallback;
}

// Which engine can run here ({kind, fallback}), asked once: the page picks its model from it.
let probed = null;
async function probe(msg) {
  if (!probed) {
    let kind = Bundle.cpu;
    let fallback = null;
    if (!msg.forceCpu) {
      fallback = await webgpuUsable();
      if (!fallback) kind = Bundle.webgpu;
    } else {
      fallback = { code: Fallback.requested, detail: 'cpu=1' };
    }
    probed = { kind, fallback };
  }
  post({ type: Msg.probed, bundle: probed.kind, software: probed.kind === Bundle.webgpu && softwareAdapter, adapter: adapterText });
}

async function init(msg) {
  let note = '';
  if (!probed) await probe(msg);
  let { kind, fallback } = probed;
  // The page's choice on a software GPU (models.js runsOnCpu).
  if (kind === Bundle.webgpu && msg.preferCpu) {
    kind = Bundle.cpu;
    fallback = { code: Fallback.softwareGpu, detail: adapterText };
  }
  const weights = await getBytes(msg.weights, 'model weights');
  let tokenizer = null;
  if (msg.tokenizer) {
    try {
      tokenizer = await getBytes(msg.tokenizer, 'tokenizer');
    } catch (e) {
      note = 'The tokenizer could not be loaded (' + errText(e) + '): tokens are shown as colours.';
    }
  }
  files = { weights: weights.bytes, tokenizer: tokenizer ? tokenizer.bytes : null, batch: msg.batch };
  fallback = await startEngine(kind, fallback);
  await weights.store();
  if (tokenizer && info.tokenizer) await tokenizer.store();
  post({ type: Msg.ready, info, bundle, fallback, note });
}

// After a device loss: a new engine on a new device (WebGPU again when an adapter is still
// there, else the CPU fallback), from the files already in memory. Nothing is downloaded again.
let deviceLosses = 0;
async function recover(reason) {
  post({ type: Msg.status, text: 'The GPU device was lost: restarting the engine…' });
  try { engine.free(); } catch (_) { /* already unusable */ }
  engine = null;
  // A GPU that keeps failing would loop (lost → rebuilt → regenerated → lost): the third loss
  // moves to the CPU fallback for good.
  deviceLosses++;
  const why = deviceLosses >= 3 ? { code: Fallback.engineFailed, detail: `the GPU device was lost ${deviceLosses} times` } : await webgpuUsable();
  const kind = why ? Bundle.cpu : Bundle.webgpu;
  const said = reason.charAt(0).toUpperCase() + reason.slice(1);
  const failed = await startEngine(kind, why);
  const where = bundle === Bundle.webgpu ? 'a new GPU device' : `the CPU fallback (${failed.code === Fallback.engineFailed ? failed.detail : whyText(failed)})`;
  post({ type: Msg.recovered, info, bundle, note: `${said}. The engine was restarted on ${where}.` });
}

const tick = () => new Promise((r) => setTimeout(r, 0));

// Code grids (frame_tokens codes each; a clip is its frames) → RGBA8, in pieces the engine's
// image decoder was sized for (the engine's batch).
async function decodePixels(codes) {
  const per = frameTokens(info.config);
  const images = codes.length / per;
  const chunk = Math.max(1, files.batch);
  if (images <= chunk) return { rgba: await engine.decode_images(codes, images), batch: images };
  const bytes = 4 * info.image_size * info.image_size;
  const rgba = new Uint8Array(images * bytes);
  for (let i = 0; i < images; i += chunk) {
    const n = Math.min(chunk, images - i);
    rgba.set(await engine.decode_images(codes.subarray(i * per, (i + n) * per), n), i * bytes);
  }
  return { rgba, batch: images };
}

// One picture of a run's step, unless a newer generation superseded `gen`; false when the
// generation's picture work should stop. A device loss is thrown (the caller rebuilds the engine).
async function decodeStep(gen, r, index) {
  if (gen !== imageGeneration) return false;
  const codes = new Uint32Array(r.steps[index].predicted.flat());
  try {
    const { rgba, batch } = await decodePixels(codes);
    post({ type: Msg.images, id: r.id, index, rgba, batch, size: info.image_size }, [rgba.buffer]);
    return true;
  } catch (e) {
    const { message, kind } = describe(e);
    if (kind === ErrorKind.deviceLost) throw e;
    post({ type: Msg.error, id: r.id, message: 'image decoding failed: ' + message, kind, images: true });
    return false;
  }
}

// A generation (msg.runs = [{id, request}]) as resumable work: each run is decoded (token
// states stream out step by step) and its final grid decoded to pixels; then every run's other
// steps' pictures, in order. Between pieces it steps aside for anything waiting in the queue
// (it is queued again behind it), so what the page asks meanwhile — the real clips' frames, the
// picker's thumbnails, a newer generation — does not wait behind a dozen step pictures.
// A superseded generation ends before it can step aside: only the current one ever re-queues
// itself, so two generations never keep yielding to each other.
// A device loss is thrown out of here; a cancelled decode ends it quietly.
async function generate(job) {
  const { msg, gen, done } = job;
  const superseded = () => msg !== latestGenerate || gen !== imageGeneration;
  const stepAside = () => {
    if (waiting === 0) return false;
    enqueue(() => orRecover(() => generate(job)), msg);
    return true;
  };
  while (job.run < msg.runs.length) {
    if (superseded()) return;
    if (job.run > 0 && stepAside()) return;
    const run = msg.runs[job.run++];
    const steps = [];
    try {
      const traceJson = await engine.generate(JSON.stringify(run.request), (json) => {
        const step = JSON.parse(json);
        steps.push(step);
        post({ type: Msg.step, id: run.id, step });
      });
      post({ type: Msg.done, id: run.id, trace: JSON.parse(traceJson) });
    } catch (e) {
      const { message, kind } = describe(e);
      if (kind === ErrorKind.cancelled) return; // a newer request replaced this one
      if (kind === ErrorKind.deviceLost) throw e;
      post({ type: Msg.error, id: run.id, message, kind });
      continue;
    }
    const r = { id: run.id, steps };
    done.push(r);
    if (info.tokenizer && !(await decodeStep(gen, r, steps.length - 1))) return;
    await tick();
  }
  // Every run's other steps, in order; the list survives stepping aside.
  job.pictures ??= info.tokenizer ? done.flatMap((r) => r.steps.slice(0, -1).map((_, index) => ({ r, index }))) : [];
  while (job.pictures.length) {
    await tick();
    if (superseded()) return;
    if (stepAside()) return;
    const { r, index } = job.pictures[0];
    if (!(await decodeStep(gen, r, index))) return;
    job.pictures.shift();
  }
  for (const r of done) post({ type: Msg.imagesDone, id: r.id });
}

// After a device loss: drop the lost engine's pending picture work and rebuild the engine (the
// page starts the generation again on Msg.recovered).
async function orRecover(work) {
  try {
    await work();
  } catch (e) {
    if (e.name !== ErrorKind.deviceLost) throw e;
    imageGeneration++;
    await recover(e.message);
  }
}

// Messages are handled one at a time, in order. `waiting` counts the items not started yet, so
// that long work (a generation's pictures) can step aside for them.
let queue = Promise.resolve();
let waiting = 0;
// Work after everything queued so far; a failure is reported as the message's.
function enqueue(work, msg = null) {
  waiting++;
  queue = queue.then(async () => {
    waiting--;
    try {
      await work();
    } catch (e) {
      const d = describe(e);
      if (msg && (msg.type === Msg.init || msg.type === Msg.probe) || crashed) post({ type: Msg.fatal, ...d });
      else post({ type: Msg.error, id: msg && msg.runs ? msg.runs[0].id : null, ...d });
    }
  });
}
self.onmessage = (ev) => {
  const msg = ev.data;
  if (msg.type === Msg.cancelImages) { imageGeneration++; return; }
  if (msg.type === Msg.simulateDeviceLoss) {
    enqueue(() => {
      try { engine.simulate_device_loss(); } catch (e) { post({ type: Msg.error, id: null, ...describe(e) }); }
    });
    return;
  }
  if (msg.type === Msg.generate) {
    latestGenerate = msg;
    if (engine) engine.cancel(); // stops a running decode at its next step
  }
  enqueue(async () => {
    if (msg.type === Msg.probe) await probe(msg);
    else if (msg.type === Msg.decodeCodes) {
      // Pictures for the page's own use (the picker): a failure is said there, not as a decode's.
      try {
        if (!engine || !info.tokenizer) throw kindError(ErrorKind.notReady, 'no tokenizer loaded');
        const { rgba, batch } = await decodePixels(Uint32Array.from(msg.codes));
        post({ type: Msg.codesDecoded, id: msg.id, rgba, batch, size: info.image_size }, [rgba.buffer]);
      } catch (e) {
        post({ type: Msg.codesDecoded, id: msg.id, error: describe(e).message });
      }
    }
    else if (msg.type === Msg.init) await init(msg);
    else if (msg.type === Msg.generate) {
      if (msg !== latestGenerate) return; // superseded while it waited
      if (!engine) throw kindError(ErrorKind.notReady, 'the engine is not ready');
      await orRecover(() => generate({ msg, gen: imageGeneration, run: 0, done: [], pictures: null }));
    }
  }, msg);
};
self.addEventListener('error', (ev) => post({ type: Msg.fatal, message: 'engine crashed: ' + (ev.message || 'unknown error'), kind: ErrorKind.crashed }));
self.addEventListener('unhandledrejection', (ev) => post({ type: Msg.fatal, message: 'engine crashed: ' + errText(ev.reason), kind: ErrorKind.crashed }));
