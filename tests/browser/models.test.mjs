// The page's choice of model (www/models.js), in node: which model a visitor gets on which
// device, and what a link can ask for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickModel, modelMenu, samplingFor, animateModelFor, runsOnCpu, largerOffer, FAST_ENOUGH_MS, FILES, FALLBACK_SAMPLING } from '../../www/models.js';
import { Bundle } from '../../www/protocol.js';
import { DEFAULTS, parseHash, formatHash } from '../../www/state.js';
import { loadEvalTable } from '../../www/assets.js';

const manifest = {
  default: 'd256',
  models: [
    { id: 'd256', name: 'Quality', about: 'big', weights: 'models/big.safetensors', tokenizer: 'models/tok-big.safetensors' },
    { id: 'small', name: 'Small', about: 'small', light: true, weights: 'models/small.safetensors', tokenizer: 'models/tok-small.safetensors' },
  ],
};
const gpu = { bundle: 'webgpu', software: false };
const swiftshader = { bundle: 'webgpu', software: true };
const cpu = { bundle: 'cpu', software: false };
const state = (hash) => parseHash(hash).state;

test('a hardware GPU gets the default model; a software GPU or the CPU fallback the light one, and says why', () => {
  const big = pickModel(manifest, state(''), gpu);
  assert.deepEqual([big.id, big.weights, big.tokenizer, big.why, big.problem], ['d256', 'models/big.safetensors', 'models/tok-big.safetensors', null, null]);
  for (const device of [swiftshader, cpu]) {
    const p = pickModel(manifest, state(''), device);
    assert.equal(p.id, 'small');
    assert.equal(p.tokenizer, 'models/tok-small.safetensors');
    assert.match(p.why, /small model/);
    assert.match(p.why, device === cpu ? /CPU fallback/ : /software GPU/);
    assert.match(p.why, /quality model is in the Model menu/);
  }
});

test('a software GPU runs every model on the CPU engine unless the link says gpu=1', () => {
  const soft = { bundle: Bundle.webgpu, software: true }, hard = { bundle: Bundle.webgpu, software: false }, cpu = { bundle: Bundle.cpu, software: false };
  assert.equal(runsOnCpu(soft, DEFAULTS), true);
  assert.equal(runsOnCpu(soft, { ...DEFAULTS, gpu: true }), false);
  assert.equal(runsOnCpu(hard, DEFAULTS), false);
  assert.equal(runsOnCpu(cpu, DEFAULTS), false, 'already the CPU: nothing to prefer');
  assert.equal(runsOnCpu(null, DEFAULTS), false, 'before the probe: nothing to prefer');
});

test('a link that names a model gets it on any device; an unknown one is a problem, then auto', () => {
  assert.equal(pickModel(manifest, state('#m=d256'), swiftshader).id, 'd256');
  assert.equal(pickModel(manifest, state('#m=small'), gpu).id, 'small');
  const p = pickModel(manifest, state('#m=huge'), gpu);
  assert.equal(p.id, 'd256');
  assert.match(p.problem, /“huge” is not offered here \(d256, small\)/);
});

test("a link's own weights win, with the tokenizer of the model they belong to", () => {
  const own = pickModel(manifest, state('#w=models/mine.safetensors'), gpu);
  assert.deepEqual([own.id, own.weights, own.tokenizer], [null, 'models/mine.safetensors', 'models/tok-big.safetensors']);
  const shipped = pickModel(manifest, state('#w=models/small.safetensors'), gpu);
  assert.deepEqual([shipped.id, shipped.tokenizer], ['small', 'models/tok-small.safetensors']);
  const both = pickModel(manifest, state('#w=models/mine.safetensors&tok=models/t.safetensors'), cpu);
  assert.equal(both.tokenizer, 'models/t.safetensors');
  assert.equal(pickModel(manifest, state('#m=small&tok=models/t.safetensors'), gpu).tokenizer, 'models/t.safetensors');
});

test('with one model, or a manifest without the list, there is nothing to choose', () => {
  const one = { default: 'small', models: [manifest.models[1]] };
  for (const device of [gpu, cpu]) {
    const p = pickModel(one, state(''), device);
    assert.equal(p.id, 'small');
    assert.equal(p.why, null);
  }
  for (const m of [null, {}, { files: {} }]) {
    const p = pickModel(m, DEFAULTS, gpu);
    assert.deepEqual([p.id, p.weights, p.tokenizer], [null, FILES.weights, FILES.tokenizer]);
  }
});

test('the Model menu lists every staged model, the default marked', () => {
  const menu = modelMenu(manifest, 'small');
  assert.deepEqual(menu.map((e) => [e.id, e.label, e.selected]), [['d256', 'Quality (default)', false], ['small', 'Small', true]]);
  assert.deepEqual(modelMenu(null, 'x'), []);
});

test('decodes use the model\'s sampling settings unless the link or the controls set one', () => {
  const entry = { id: 'd256', sampling: { temperature: 1, tau: 8, guidance: 0 } };
  assert.deepEqual(samplingFor(state(''), entry), { temp: 1, tau: 8, g: 0, gs: 'constant' });
  assert.deepEqual(samplingFor(state('#tau=2&g=0.5'), entry), { temp: 1, tau: 2, g: 0.5, gs: 'constant' });
  assert.deepEqual(samplingFor(state('#temp=0'), entry), { temp: 0, tau: 8, g: 0, gs: 'constant' }, 'arg-max (0) is a setting, not "unset"');
  // A model's guidance ramp is its setting too, and a link can turn it off or on.
  const ramped = { id: 'd256', sampling: { temperature: 1, tau: 8, guidance: 4, guidance_schedule: 'linear' } };
  assert.deepEqual(samplingFor(state(''), ramped), { temp: 1, tau: 8, g: 4, gs: 'linear' });
  assert.deepEqual(samplingFor(state('#gs=constant'), ramped), { temp: 1, tau: 8, g: 4, gs: 'constant' });
  assert.deepEqual(samplingFor(state('#g=2&gs=linear'), entry), { temp: 1, tau: 8, g: 2, gs: 'linear' });
  // A link's own weights, or a model listed without settings: the sampler's defaults.
  const fallback = { temp: FALLBACK_SAMPLING.temperature, tau: FALLBACK_SAMPLING.tau, g: FALLBACK_SAMPLING.guidance, gs: FALLBACK_SAMPLING.guidance_schedule };
  assert.deepEqual(samplingFor(state(''), null), fallback);
  assert.deepEqual(samplingFor(state(''), { id: 'x' }), fallback);
  // A link that leaves them out follows whichever model runs; the link itself stays short.
  assert.equal(formatHash(state('#m=small')), 'm=small');
});

test('an emoji is animated by a clip model of its tokenizer: the light one on a slow device, the larger one on a GPU', () => {
  const clipEntry = (id, tokenizer, light) => ({ id, name: id, about: id, kind: 'clip', light, weights: `models/${id}.safetensors`, tokenizer });
  const withClips = { ...manifest, models: [...manifest.models, clipEntry('anim', 'models/tok-big.safetensors', true), clipEntry('anim-large', 'models/tok-big.safetensors', false)] };
  assert.equal(animateModelFor(withClips, 'models/tok-big.safetensors', gpu).id, 'anim-large');
  for (const device of [swiftshader, cpu]) assert.equal(animateModelFor(withClips, 'models/tok-big.safetensors', device).id, 'anim');
  // Only one of them: it, whatever the device.
  const one = { ...manifest, models: [...manifest.models, clipEntry('anim', 'models/tok-big.safetensors', false)] };
  assert.equal(animateModelFor(one, 'models/tok-big.safetensors', cpu).id, 'anim');
  // Another tokenizer's codes cannot be a clip's given frame.
  assert.equal(animateModelFor(withClips, 'models/tok-small.safetensors', gpu), null);
  // A light clip model is never the page's pick for an image default on a slow device.
  const clipFirst = { ...withClips, models: [withClips.models[2], ...manifest.models, withClips.models[3]] };
  assert.equal(pickModel(clipFirst, state(''), cpu).id, 'small');
});

test("a model's quality table is shown for the weights it was measured on, or for their int8 copy, marked", async () => {
  const table = { model_sha256: 'f16hash', rows: [{ schedule: 'XL12', cache: 'off', fid: 99 }], settings: { samples: 10000, seed: 0 }, baseline: { schedule: 'XL12', cache: 'off' } };
  const saved = globalThis.fetch;
  globalThis.fetch = async (url) => (url === 'models/big.eval.json' ? { ok: true, json: async () => table } : { ok: false });
  try {
    const files = (entry) => ({ files: { 'big.safetensors': entry, 'big.eval.json': { sha256: 'x', bytes: 1 } } });
    const exact = await loadEvalTable(files({ sha256: 'f16hash', bytes: 10 }), 'models/big.safetensors');
    assert.equal(exact.served_int8, undefined);
    assert.equal(exact.rows[0].fid, 99);
    const int8 = await loadEvalTable(files({ sha256: 'int8hash', bytes: 5, stored: 'int8', source_sha256: 'f16hash' }), 'models/big.safetensors');
    assert.equal(int8.served_int8, true);
    // Another file's table, or an int8 copy of other weights: no table.
    assert.equal(await loadEvalTable(files({ sha256: 'otherhash', bytes: 10 }), 'models/big.safetensors'), null);
    assert.equal(await loadEvalTable(files({ sha256: 'int8hash', bytes: 5, stored: 'int8', source_sha256: 'otherhash' }), 'models/big.safetensors'), null);
    assert.equal(await loadEvalTable(files({ sha256: 'otherhash', bytes: 10, source_sha256: 'f16hash' }), 'models/big.safetensors'), null);
  } finally {
    globalThis.fetch = saved;
  }
});

test('a light model picked for a slow device offers the default when its first decode was quick, and only then', () => {
  const withFiles = {
    ...manifest,
    models: manifest.models.map((m) => ({ ...m, page_files: [m.weights, m.tokenizer] })),
    files: { 'big.safetensors': { bytes: 4_000_000 }, 'tok-big.safetensors': { bytes: 900_000 }, 'small.safetensors': { bytes: 1 } },
  };
  const picked = pickModel(withFiles, state(''), cpu);
  assert.equal(picked.id, 'small');
  assert.deepEqual(largerOffer(withFiles, picked, state(''), 550), { id: 'd256', name: 'Quality', mb: 4.9, estimateMs: 3300 });
  assert.equal(largerOffer(withFiles, picked, state(''), FAST_ENOUGH_MS + 1), null, 'a slow first decode: no offer');
  assert.equal(largerOffer(withFiles, picked, state('embed=1'), 550), null, 'an embed keeps its model');
  assert.equal(largerOffer(withFiles, pickModel(withFiles, state('m=small'), cpu), state('m=small'), 550), null, 'a link’s choice stands');
  assert.equal(largerOffer(withFiles, pickModel(withFiles, state(''), gpu), state(''), 550), null, 'the default already runs');
});
