// The page ↔ worker protocol (www/protocol.js): pure JS, no browser. That the Rust error kinds
// match the bundle's is checked in wasm.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Msg, Fallback, ErrorKind, RUST_ERROR_KINDS, kindError, kindOf, isBadModelFile, SIMD_PROBE, hasWasmSimd } from '../../www/protocol.js';

const www = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../www');

test('every message type, fallback code and error kind is a distinct name', () => {
  for (const table of [Msg, Fallback, ErrorKind]) {
    const names = Object.values(table);
    assert.equal(new Set(names).size, names.length, names.join(' '));
    assert.ok(Object.isFrozen(table));
  }
  for (const k of RUST_ERROR_KINDS) assert.ok(Object.values(ErrorKind).includes(k), k);
});

test('kinds of caught values: ours by name, anything else is other', () => {
  const e = kindError(ErrorKind.downloadFailed, 'could not download the model weights (x): HTTP 404');
  assert.ok(e instanceof Error);
  assert.equal(kindOf(e), ErrorKind.downloadFailed);
  assert.equal(e.message, 'could not download the model weights (x): HTTP 404');
  assert.equal(kindOf(new TypeError('x')), ErrorKind.other);
  assert.equal(kindOf('a string'), ErrorKind.other);
  assert.equal(kindOf(null), ErrorKind.other);
  assert.ok(isBadModelFile(ErrorKind.badWeights) && isBadModelFile(ErrorKind.badConfig));
  assert.ok(!isBadModelFile(ErrorKind.engineFailed) && !isBadModelFile(ErrorKind.deviceLost));
});

test('no page module or the worker spells a message type or an error kind as a string', () => {
  const names = [...Object.values(Msg), ...Object.values(ErrorKind)];
  for (const f of fs.readdirSync(www).filter((f) => f.endsWith('.js') && f !== 'protocol.js')) {
    const text = fs.readFileSync(path.join(www, f), 'utf8');
    for (const n of names) {
      for (const q of ["'", '"', '`']) assert.ok(!text.includes(`type: ${q}${n}${q}`), `${f} spells message type ${n}`);
      assert.ok(!new RegExp(`(===|!==|startsWith\\()\\s*['"\`]${n}['"\`]`).test(text), `${f} compares with the string '${n}'`);
    }
  }
});

test('the SIMD probe is a valid module that uses a SIMD128 instruction (node has SIMD, as the CPU bundle needs)', () => {
  assert.equal(hasWasmSimd(), true);
  const bytes = Uint8Array.from(SIMD_PROBE);
  assert.ok(bytes.includes(0xfd), 'the SIMD opcode prefix');
  const f = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
  assert.deepEqual(Object.keys(f), [], 'no exports: it is only validated');
  // The same bytes with the function typed i32 (no v128 anywhere) are refused: the probe's
  // validity rests on SIMD types and opcodes.
  const i32 = bytes.slice();
  i32[13] = 0x7f;
  assert.equal(WebAssembly.validate(i32), false);
});
