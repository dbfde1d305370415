// The page's "Reproduce" box (www/reproduce.js), in node: the commands it writes for a decode,
// and that the staged manifest names, for every model, the repository file the page decodes.
// The page test "the page's command decodes the page's tokens" runs the command itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCommand, measureCommand, measureNeeds, traceFile, shellWord, CLI } from '../../www/reproduce.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
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

test('a clip decode names its starts and token file; a carried frame or a link’s own weights say why not', () => {
  const clips = [{ start: 3 }, { start: 41 }];
  const { command } = generateCommand({ model: clip, request: { ...request, classes: [1, 4] }, clips });
  assert.match(command, / generate --weights models\/magnets-anim\.int8\.safetensors --clips-tokens models\/anim\/anim_tokens\.safetensors --start 3,41 --class 1,4 /);
  const carried = generateCommand({ model: clip, request, clips: [{ start: null }] });
  assert.equal(carried.command, undefined);
  assert.match(carried.why, /generated emoji/);
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
