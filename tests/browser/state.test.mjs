// Unit tests of the page's URL-hash state (www/state.js): pure JS, no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, parseHash, formatHash, classesFor } from '../../www/state.js';

test('empty hash gives the defaults', () => {
  assert.deepEqual(parseHash(''), { state: { ...DEFAULTS }, problems: [] });
  assert.deepEqual(parseHash('#'), { state: { ...DEFAULTS }, problems: [] });
});

test('format → parse round trip', () => {
  const state = { ...DEFAULTS, schedule: 'S2M4XL6', cache: 'on:3', cls: '4', seed: 123456, temp: 0.5, tau: 2.25, g: 1.5, cmp: true, embed: true, speed: 2 };
  const h = formatHash(state);
  assert.deepEqual(parseHash('#' + h), { state, problems: [] });
  assert.equal(formatHash(DEFAULTS), '', 'defaults are left out of the link');
});

test('every bad field is reported and falls back on its own', () => {
  const { state, problems } = parseHash('#seed=-1&temp=abc&T=0&c=on:0&cls=x&cmp=maybe&w=../secret&tok=https://evil/x&zzz=1&s=S1%20XL2');
  assert.equal(problems.length, 10, problems.join('\n'));
  for (const k of ['seed', 'temp', 'steps', 'cache', 'cls', 'cmp', 'w', 'tok', 'schedule']) assert.equal(state[k], DEFAULTS[k], k);
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
