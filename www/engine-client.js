// The page's side of the engine: the worker that decodes (worker.js, spoken to in the messages
// of protocol.js) and the planner, the same wasm bundle's pure functions on the main thread
// (schedules and their cost: no GPU needed, answered at once while the worker is busy).
import { Msg } from './protocol.js';

// Starts the worker. `on` maps message types (Msg.X) to handlers of that message; `onCrash`
// gets a sentence when the worker itself cannot start.
export function startEngine(on, onCrash) {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = (ev) => {
    const handler = on[ev.data.type];
    if (handler) handler(ev.data);
  };
  worker.onerror = (ev) => onCrash('the engine worker failed to start' + (ev.message ? ': ' + ev.message : ''));
  const post = (msg) => worker.postMessage(msg);
  return {
    // Which engine can run here; answered by Msg.probed {bundle, software, adapter}.
    probe: ({ forceCpu }) => post({ type: Msg.probe, forceCpu }),
    // Loads the model files (URLs) and builds the engine; answered by Msg.ready or Msg.fatal.
    init: ({ weights, tokenizer, forceCpu, preferCpu, batch }) => post({ type: Msg.init, weights, tokenizer, forceCpu, preferCpu, batch }),
    // Decodes runs [{id, request}], replacing whatever was running.
    generate: (runs) => {
      post({ type: Msg.cancelImages });
      post({ type: Msg.generate, runs });
    },
    // Code grids → pixels, done after a running decode and its final pictures (before its other
    // steps' pictures); answered by Msg.codesDecoded {id, …}.
    decodeCodes: (id, codes) => post({ type: Msg.decodeCodes, id, codes }),
    simulateDeviceLoss: () => post({ type: Msg.simulateDeviceLoss }),
    // Stops the worker and frees its engine (a model switch starts a new one).
    terminate: () => { worker.onmessage = null; worker.terminate(); },
  };
}

// The wasm module for the planner: the WebGPU bundle (the worker loads the same file: one
// download), else the CPU one; null when neither loads.
export async function loadPlannerModule() {
  for (const path of ['./pkg/magnets.js', './pkg-fallback/magnets.js']) {
    try {
      const mod = await import(path);
      await mod.default();
      return mod;
    } catch (_) { /* try the next */ }
  }
  return null;
}

// The planner for one model: schedule text ↔ width per step, and a schedule's per-step cost.
// Every answer comes from the Rust the decode uses; a bad schedule throws an Error named
// ErrorKind.badSchedule with a readable message.
export function makePlanner(mod, config) {
  const p = new mod.Planner(JSON.stringify(config));
  return {
    // {schedule (canonical text), widths (index per step), preset (the text was a preset name)}
    resolve: (text, steps) => JSON.parse(p.resolve(text, steps)),
    format: (widths) => p.format(Uint32Array.from(widths)),
    plan: (schedule, cache, guidance) => JSON.parse(p.plan(schedule, cache, guidance)),
    // Throws (ErrorKind.badRequest, the sampler's message) when a decode would refuse these.
    checkSampling: ({ temp, tau, g }) => p.check_sampling(temp, tau, g),
  };
}
