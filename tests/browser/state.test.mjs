// Unit tests of the page's URL-hash state (www/state.js): pure JS, no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, parseHash, formatHash, classesFor } from '../../www/state.js';

test('empty hash gives the defaults', () => {
  assert.deepEqual(parseHash(''), { state: { ...DEFAULTS }, problems: [] });
  assert.deepEqual(parseHash('#'), { state: { ...DEFAULTS }, problems: [] });
});

test('format → parse round trip', () => {
  const state = { ...DEFAULTS, schedule: 'S2M4XL6', cache: 'on:3', cls: '4', seed: 123456, temp: 0.5, tau: 2.25, g: 1.5, gs: 'linear', cmp: true, embed: true, speed: 2 };
  const h = formatHash(state);
  assert.deepEqual(parseHash('#' + h), { state, problems: [] });
  assert.equal(formatHash(DEFAULTS), '', 'defaults are left out of the link');
});

test('every bad field is reported and falls back on its own', () => {
  const { state, problems } = parseHash('#seed=-1&temp=abc&T=0&c=on:0&cls=x&cmp=maybe&w=../secret&tok=https://evil/x&zzz=1&s=S1%20XL2&m=Big_Model!&gs=cosine');
  assert.equal(problems.length, 12, problems.join('\n'));
  for (const k of ['seed', 'temp', 'steps', 'cache', 'cls', 'cmp', 'w', 'tok', 'schedule', 'm', 'gs']) assert.equal(state[k], DEFAULTS[k], k);
  assert.ok(problems.some((p) => /^gs: guidance schedule “cosine” must be constant or linear; using the model’s setting$/.test(p)), problems.join('\n'));
});

test('a temperature the sampler would refuse is reported at parse time', () => {
  assert.equal(parseHash('#temp=0.005').problems.length, 1);
  assert.equal(parseHash('#temp=0').state.temp, 0);
  assert.equal(parseHash('#temp=0.01').state.temp, 0.01);
});

test('broken percent-escapes and huge hashes do not throw', () => {
  assert.equal(parseHash('#s=%E0%A4%A').problems.length, 1);
  const big = parseHash('#' + 'a=1&'.repeat(1000));
  assert.equal(big.problems.length, 1);
  assert.deepEqual(big.state, { ...DEFAULTS });
});

test('classes: mix cycles, null is the unconditional class, a number repeats', () => {
  const config = { classes: 3 };
  assert.deepEqual(classesFor('mix', config, 5), [0, 1, 2, 0, 1]);
  assert.deepEqual(classesFor('null', config, 2), [3, 3]);
  assert.deepEqual(classesFor('2', config, 2), [2, 2]);
});

test('keys named like Object.prototype members are unknown settings, not a crash', () => {
  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'prototype']) {
    for (const hash of [`#${key}=1`, `#${key}`, `#${encodeURIComponent(key)}=x&seed=5`]) {
      const { state, problems } = parseHash(hash);
      assert.equal(problems.length, 1, `${hash}: ${problems.join('; ')}`);
      assert.match(problems[0], /unknown setting/);
      assert.equal(Object.getPrototypeOf(state), Object.prototype, hash);
      assert.deepEqual(Object.keys(state).sort(), Object.keys(DEFAULTS).sort(), hash);
    }
  }
  assert.equal(parseHash('#constructor=1&seed=5').state.seed, 5, 'the good fields still apply');
});

// Property: any string is a state of the right shape (every field valid or its default) plus
// readable problems; never an exception. The state formats to a link that parses back to itself.
test('property: parseHash of seeded random strings', () => {
  let seed = 20261201;
  const rand = (n) => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed % n; };
  const keys = ['s', 'T', 'c', 'cls', 'seed', 'temp', 'tau', 'g', 'gs', 'cmp', 'embed', 'speed', 'm', 'w', 'tok', 'cpu',
    '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'zz'];
  const atoms = ['&', '=', '#', '%', '%2', '%zz', '%26', '%3D', '%00', '%E2%82%AC', '€', '\u0000', '..', '/', '-', '.',
    '1', '0', '12', '-3', '1.5', '1e5', '4294967296', 'on', 'off', 'on:3', 'S3M3L3XL3', 'magnets', 'mix', 'null', 'true', ' ', 'https://x'];
  // Half the values are valid for their key, so both outcomes are exercised.
  const VALID = {
    s: ['S3M3L3XL3', 'magnets', 'XL12'], T: ['1', '12', '64'], c: ['on', 'off', 'on:3'], cls: ['mix', 'null', '3'],
    seed: ['0', '42', '4294967295'], temp: ['0', '0.5', '10'], tau: ['4.5', '0'], g: ['0', '2.5'], gs: ['constant', 'linear'], cmp: ['1', '0'],
    embed: ['true', 'false'], speed: ['0.25', '8'], m: ['auto', 'small', 'd256'], w: ['models/x.safetensors'], tok: ['models/t.safetensors'], cpu: ['0'],
  };
  // The sampling settings default to null (the model's own) and are numbers once a link sets
  // them, but for the guidance schedule's name.
  const types = Object.fromEntries(Object.entries(DEFAULTS).map(([k, v]) => [k, k === 'gs' ? 'string' : v === null ? 'number' : typeof v]));
  let cases = 0, withProblems = 0;
  for (let i = 0; i < 5000; i++) {
    let h = rand(2) ? '#' : '';
    const parts = rand(6);
    for (let j = 0; j < parts; j++) {
      if (j) h += '&';
      const key = keys[rand(keys.length)];
      h += key;
      if (rand(4)) h += '=';
      if (VALID[key] && rand(2)) h += VALID[key][rand(VALID[key].length)];
      else for (let n = rand(4); n > 0; n--) h += atoms[rand(atoms.length)];
    }
    if (rand(50) === 0) h += 'x'.repeat(2100);
    let r;
    assert.doesNotThrow(() => { r = parseHash(h); }, h);
    cases++;
    if (r.problems.length) withProblems++;
    assert.ok(Array.isArray(r.problems) && r.problems.every((p) => typeof p === 'string' && p.length > 0), h);
    assert.deepEqual(Object.keys(r.state).sort(), Object.keys(DEFAULTS).sort(), h);
    for (const [k, v] of Object.entries(r.state)) {
      if (v !== null || DEFAULTS[k] !== null) assert.equal(typeof v, types[k], `${h}: ${k}`);
      if (typeof v === 'number') assert.ok(Number.isFinite(v), `${h}: ${k} = ${v}`);
    }
    const back = parseHash('#' + formatHash(r.state));
    assert.deepEqual(back, { state: r.state, problems: [] }, `round trip of ${h}`);
  }
  console.log(`state.js: ${cases} random hashes, ${withProblems} with reported problems, 0 exceptions`);
});
