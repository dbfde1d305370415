// The page's wasm bundle (www/pkg, built by scripts/build-web.sh) in node, without a browser:
// the planner's answers, the kinds its errors are named by, and that the page's copy of the
// names shared across the boundary (www/protocol.js) matches the bundle's.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorKind, RUST_ERROR_KINDS, TokenState, kindOf } from '../../www/protocol.js';
import { RANGES, MIN_TEMPERATURE, DEFAULTS } from '../../www/state.js';
import { samplingFor } from '../../www/models.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(here, '../../www/pkg');
const config = JSON.parse(fs.readFileSync(path.resolve(here, '../../models/magnets-emoji.config.json'), 'utf8'));
let wasm;

before(async () => {
  wasm = await import(path.join(pkg, 'magnets.js'));
  await wasm.default({ module_or_path: fs.readFileSync(path.join(pkg, 'magnets_bg.wasm')) });
});

test('protocol.js names every error kind and token state exactly as the bundle does', () => {
  const c = JSON.parse(wasm.protocol_constants());
  assert.deepEqual([...RUST_ERROR_KINDS], c.error_kinds);
  for (const k of c.error_kinds) assert.ok(Object.values(ErrorKind).includes(k), k);
  assert.deepEqual(
    { masked: TokenState.masked, fixed_now: TokenState.fixedNow, fixed_earlier: TokenState.fixedEarlier, given: TokenState.given },
    c.token_states,
  );
});

test('the planner resolves schedules and presets, formats widths, and plans', () => {
  const p = new wasm.Planner(JSON.stringify(config));
  const names = config.width_names;
  const r = JSON.parse(p.resolve('magnets', 12));
  assert.equal(r.preset, true);
  assert.equal(r.widths.length, 12);
  assert.equal(r.schedule, p.format(Uint32Array.from(r.widths)), 'format is the inverse of resolve');
  const custom = JSON.parse(p.resolve(` ${names[0].toLowerCase()}2${names[names.length - 1]}1 `, 0));
  assert.deepEqual(custom, { schedule: `${names[0]}2${names[names.length - 1]}1`, widths: [0, 0, names.length - 1], preset: false });
  assert.equal(JSON.parse(p.resolve(`const:${names[1]}`, 5)).schedule, `${names[1]}5`);
  const plan = JSON.parse(p.plan(custom.schedule, 'on', false));
  assert.equal(plan.steps.length, 3);
  assert.ok(plan.total_gflops > 0 && plan.ratio > 1, JSON.stringify(plan).slice(0, 200));
});

test('wasm errors are named by their kind, with a readable message', () => {
  const p = new wasm.Planner(JSON.stringify(config));
  const throws = (f, kind, message) => {
    let err = null;
    try { f(); } catch (e) { err = e; }
    assert.ok(err instanceof Error, 'throws an Error');
    assert.equal(err.name, kind, err.message);
    assert.equal(kindOf(err), kind);
    assert.match(err.message, message);
  };
  throws(() => p.resolve('ZZ99', 12), ErrorKind.badSchedule, /schedule/);
  throws(() => p.resolve('magnets', 0), ErrorKind.badSchedule, /0 steps/);
  throws(() => p.format(Uint32Array.from([99])), ErrorKind.badSchedule, /width index 99/);
  throws(() => p.plan(`${config.width_names[0]}2`, 'sometimes', false), ErrorKind.badSchedule, /cache/);
  throws(() => new wasm.Planner('{"grid": [8]}'), ErrorKind.badConfig, /model config/);
  throws(() => wasm.inspect_weights(new Uint8Array([1, 2, 3])), ErrorKind.badWeights, /weights file/);
});

test('the link\'s sampling ranges (state.js RANGES) are the ones the sampler accepts', () => {
  const p = new wasm.Planner(JSON.stringify(config));
  const check = (s) => p.check_sampling(s.temp, s.tau, s.g);
  const base = samplingFor(DEFAULTS, null);
  for (const key of ['temp', 'tau', 'g']) {
    const { min, max } = RANGES[key];
    check({ ...base, [key]: min });
    check({ ...base, [key]: max });
    for (const bad of [min - 0.01, max + 0.01]) {
      assert.throws(() => check({ ...base, [key]: bad }), (e) => e.name === ErrorKind.badRequest, `${key} = ${bad} is refused`);
    }
  }
  check({ ...base, temp: MIN_TEMPERATURE });
  assert.throws(() => check({ ...base, temp: MIN_TEMPERATURE / 2 }), (e) => e.name === ErrorKind.badRequest && /temperature/.test(e.message));
});
