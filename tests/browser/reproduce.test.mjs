// The page's "Reproduce" box (www/reproduce.js), in node: the commands it writes for a decode,
// and that the staged manifest names, for every model, the repository file the page decodes.
// The page test "the page's command decodes the page's tokens" runs the command itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateCommand, measureCommand, measureNeeds, traceFile, shellWord, CLI } from '../../www/reproduce.js';
import { repo, nativeBinary, runGenerate } from '../../scripts/lib/native-cli.mjs';
import { FALLBACK_SAMPLING } from '../../www/models.js';
import { classesFor } from '../../www/state.js';

const request = {
  classes: [0, 1, 2, 0], seed: 7, temperature: 1, tau: 8, guidance: 4, guidance_schedule: 'linear', schedule: 'S3M3L3XL3', cache: 'on:4',
};
const image = { id: 'd256', kind: 'image', cli: { weights: 'models/magnets-emoji-d256.int8.safetensors' } };
const clip = { id: 'anim', kind: 'clip', cli: { weights: 'models/magnets-anim.int8.safetensors', tokens: 'models/anim/anim_tokens.safetensors' } };

test('an image decode: every request field as an explicit flag, the int8 file the page decodes', () => {
  const { command, why } = generateCommand({ model: image, request });
  assert.equal(why, undefined);
  assert.equal(command, `${CLI} generate --weights models/magnets-emoji-d256.int8.safetensors --class 0,1,2,0 --schedule S3M3L3XL3 --cache on:4 `
    + '--seed 7 --temperature 1 --noise 8 --guidance 4 --guidance-schedule linear --out magnets-seed7');
  // A request without a guidance schedule is constant (the page's default).
  const constant = generateCommand({ model: image, request: { ...request, guidance_schedule: undefined } }).command;
  assert.match(constant, /--guidance-schedule constant/);
});

test('a clip decode names its starts and token file, or gives a carried frame’s codes; a link’s own weights say why not', () => {
  const clips = [{ start: 3 }, { start: 41 }];
  const { command } = generateCommand({ model: clip, request: { ...request, classes: [1, 4] }, clips });
  assert.match(command, / generate --weights models\/magnets-anim\.int8\.safetensors --clips-tokens models\/anim\/anim_tokens\.safetensors --start 3,41 --class 1,4 /);
  // A generated emoji's frame: its codes, continued once per class.
  const frame = Array.from({ length: 64 }, (_, i) => (i * 37) % 512);
  const carried = generateCommand({ model: clip, request: { ...request, classes: [2, 2], context: [frame, frame] }, clips: [{ start: null }, { start: null }] });
  assert.match(carried.command, new RegExp(` generate --weights models/magnets-anim\\.int8\\.safetensors --context ${frame.join(',')} --class 2,2 `));
  assert.doesNotMatch(carried.command, /--start|--clips-tokens/);
  const mixed = generateCommand({ model: clip, request: { ...request, context: [frame, [...frame].reverse()] }, clips: [{ start: null }, { start: null }] });
  assert.match(mixed.why, /one given frame/);
  const own = generateCommand({ model: null, request });
  assert.match(own.why, /came with the link/);
});

test('values outside the plain set are shell-quoted, never pasted', () => {
  assert.equal(shellWord('S3M3L3XL3'), 'S3M3L3XL3');
  assert.equal(shellWord("x'; rm -rf ~ #"), `'x'\\''; rm -rf ~ #'`);
  const odd = generateCommand({ model: image, request: { ...request, schedule: 'S3 $(id)' } }).command;
  assert.match(odd, /--schedule 'S3 \$\(id\)'/);
});

test('the measure command is the table’s own, with this schedule, cache and sampling', () => {
  const table = {
    command: 'magnets eval --weights models/magnets-emoji-d256.safetensors --schedule SCHEDULE --cache CACHE --samples 10000 --seed 0 '
      + '--temperature 1 --noise 8 --guidance 4 --guidance-schedule linear --classifier models/all-art/classifier-all-real.safetensors --data data/emoji32-all.safetensors --json',
  };
  const m = measureCommand(table, { ...request, tau: 6, guidance: 0, guidance_schedule: 'constant' });
  assert.equal(m, `${CLI} eval --weights models/magnets-emoji-d256.safetensors --schedule S3M3L3XL3 --cache on:4 --samples 10000 --seed 0 `
    + '--temperature 1 --noise 6 --guidance 0 --guidance-schedule constant --classifier models/all-art/classifier-all-real.safetensors --data data/emoji32-all.safetensors --json');
  assert.match(measureNeeds(table), /instrument\.sh data/);
  // An older table without --guidance-schedule gets the flag added.
  const old = measureCommand({ command: 'magnets eval-clips --weights W --schedule SCHEDULE --cache CACHE --temperature 1 --noise 4.5 --guidance 0 --json' }, request);
  assert.match(old, /--guidance 4 --json --guidance-schedule linear$/);
  assert.match(measureNeeds({ command: 'magnets eval-clips --weights W' }), /data --anim/);
  assert.equal(measureCommand(null, request), null);
  assert.equal(measureCommand({ command: 'rm -rf /' }, request), null, 'only a table’s eval command is offered');
});

test('the trace file is the CLI’s trace.json (the run’s trace with its steps) plus where it came from', () => {
  const steps = [{ step: 1, width: 0, tokens: [[1]] }];
  const run = { done: true, trace: { engine: 'x', schedule: 'S1', steps: [], tokens: [[1]] }, steps };
  const file = traceFile(run, { model: 'small' });
  assert.deepEqual(file.steps, steps);
  assert.deepEqual(file.page, { model: 'small' });
  assert.equal(file.engine, 'x');
  assert.equal(traceFile({ ...run, done: false }, {}), null, 'nothing before the decode ends');
});

test('the staged manifest names, for every model, a repository file with the served bytes', (t) => {
  const file = path.join(repo, 'www/models/manifest.json');
  if (!fs.existsSync(file)) return t.skip('www/models/ is not staged (scripts/build-web.sh)');
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  const sha = (f) => createHash('sha256').update(fs.readFileSync(path.join(repo, f))).digest('hex');
  for (const m of manifest.models) {
    assert.ok(m.cli && m.cli.weights, `${m.id}: no cli.weights`);
    assert.equal(sha(m.cli.weights), manifest.files[path.basename(m.weights)].sha256, `${m.id}: ${m.cli.weights} is not the file the page serves`);
    if (m.kind === 'clip') assert.ok(fs.existsSync(path.join(repo, m.cli.tokens)), `${m.id}: ${m.cli.tokens} is missing`);
  }
});

// The page's CPU engine (www/pkg-fallback: burn-flex in WebAssembly) against the native CLI, on
// requests that reach every part of the decode: presets and custom schedules, cache off / on /
// refreshed, guidance constant and ramped, arg-max codes, other step counts, both image models
// and a clip model. Each command is the one the page would show. The plan matches exactly; the
// tokens do up to float near-ties: the two builds' matrix kernels sum in other orders, so a
// logit can differ in its last bits, and where a sample lands within that of a code boundary
// the code differs (then the rest of that image follows it). A wrong flag or seed changes most
// tokens; each decode may differ in at most 2%.
test('the CPU engine in wasm and the native CLI decode the same tokens for the page’s commands', async (t) => {
  const pkg = path.join(repo, 'www/pkg-fallback');
  const file = path.join(repo, 'www/models/manifest.json');
  assert.ok(fs.existsSync(nativeBinary()), `${nativeBinary()} is missing: cargo build --release (or set MAGNETS_BIN)`);
  assert.ok(fs.existsSync(path.join(pkg, 'magnets.js')) && fs.existsSync(file), 'www/ is not built: scripts/build-web.sh');
  const wasm = await import(pathToFileURL(path.join(pkg, 'magnets.js')).href);
  await wasm.default({ module_or_path: fs.readFileSync(path.join(pkg, 'magnets_bg.wasm')) });
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  const cases = [
    ['small', { schedule: 'S3M3L3XL3', cache: 'on', seed: 0 }],
    ['small', { schedule: 'XL12', cache: 'off', seed: 1 }],
    ['small', { schedule: 'M1L7XL4', cache: 'on:3', seed: 2, guidance: 2 }],
    ['small', { schedule: 'S2M2L4XL4', cache: 'on', seed: 3, temperature: 0 }],
    ['small', { schedule: 'XL3L3M3S3', cache: 'on', seed: 4, temperature: 0.7, tau: 1, guidance: 1, guidance_schedule: 'linear' }],
    ['small', { schedule: 'S4M4L4XL4', cache: 'on', seed: 5 }],
    ['d256', { schedule: 'S3M3L3XL3', cache: 'on', seed: 6 }],
    ['anim', { schedule: 'S3M3L3XL3', cache: 'on', seed: 7, starts: [0, 5] }],
    ['anim', { schedule: 'XL12', cache: 'off', seed: 8, starts: [11] }],
    ['anim', { schedule: 'M2L7XL3', cache: 'on', seed: 9, carried: 3 }],
  ];
  const engines = {};
  let tokens = 0, differ = 0;
  for (const [id, c] of cases) {
    const model = manifest.models.find((m) => m.id === id);
    assert.ok(model, `${id} is not staged`);
    const config = JSON.parse(wasm.inspect_weights(fs.readFileSync(path.join(repo, model.cli.weights))));
    if (!engines[id]) engines[id] = await wasm.create_engine(fs.readFileSync(path.join(repo, model.cli.weights)), null, 32);
    const { starts, carried, ...rest } = c;
    // As the page asks (app.js): the model's sampling, the classes in turn (`cls=mix`).
    const request = { ...FALLBACK_SAMPLING, ...model.sampling, classes: classesFor('mix', config, starts ? starts.length : 16), ...rest };
    let clips = null;
    const file = model.starts && JSON.parse(fs.readFileSync(path.join(repo, 'www', model.starts), 'utf8'));
    if (starts) {
      clips = starts.map((n) => ({ start: n }));
      request.context = starts.map((n) => file.starts[n].codes);
      request.classes = starts.map((n) => file.starts[n].label);
    }
    if (carried != null) {
      // Two futures of one frame that is not a start (as an emoji carried from an image model).
      const frame = file.starts[carried].codes.map((v, i) => (i % 9 === 0 ? (v + 1) % 512 : v));
      clips = [{ start: null }, { start: null }];
      request.context = [frame, frame];
      request.classes = [file.starts[carried].label, file.starts[carried].label];
    }
    const page = JSON.parse(await engines[id].generate(JSON.stringify(request), () => {}));
    const { command } = generateCommand({ model, request, clips });
    const cli = runGenerate(command);
    assert.deepEqual([page.total_flops, page.sampling, page.classes], [cli.total_flops, cli.sampling, cli.classes], command);
    const a = page.tokens.flat(), b = cli.tokens.flat();
    assert.equal(a.length, b.length);
    const here = a.filter((v, i) => v !== b[i]).length;
    t.diagnostic(`${id} ${c.schedule} cache ${c.cache} seed ${c.seed}: ${here} of ${a.length} tokens differ`);
    assert.ok(here <= 0.02 * a.length, `${id} ${JSON.stringify(c)}: ${here} of ${a.length} tokens differ: ${command}`);
    tokens += a.length;
    differ += here;
  }
  t.diagnostic(`all: ${differ} of ${tokens} tokens differ over ${cases.length} decodes`);
  assert.ok(tokens > 10 * 64, 'the decodes ran');
});
