// Unit tests of Animate mode's pure parts (www/animate.js, the `ctx=` / `start=` link fields of
// www/state.js) and of the staged start list (scripts/stage-models.mjs): node only, no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULTS, parseHash, formatHash, encodeCodes, decodeCodes } from '../../www/state.js';
import { resolveClips, parseStartList, defaultStarts, toggleStart, carriedFrame, startsProblem, clipsFor, realFrameView, DEFAULT_STARTS, MAX_CLIPS } from '../../www/animate.js';
import { Bundle } from '../../www/protocol.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const CONFIG = { grid: [8, 8], frames: 8, context_frames: 1, codebook: 512, classes: 9, class_names: [] };
const frame = (k) => Array.from({ length: 64 }, (_, i) => (i * 37 + k) % 512);
const FILE = {
  codebook: 512, grid: [8, 8], frames: 8, categories: ['a', 'b'],
  starts: ['penguin', 'sun_with_face', 'cat', 'alarm_clock', 'dog', 'tropical_fish'].map((name, n) => ({
    n, name, label: n % 2, codes: frame(n), future: Array.from({ length: 7 }, (_, f) => frame(100 * n + f + 1)).flat(),
  })),
};

test('ctx: codes ↔ text round trip, two characters per code', () => {
  const codes = [0, 1, 63, 64, 511, 4095, ...frame(3)];
  const text = encodeCodes(codes);
  assert.equal(text.length, 2 * codes.length);
  assert.match(text, /^[A-Za-z0-9_-]+$/, 'URL-safe without escaping');
  assert.deepEqual(decodeCodes(text).codes, codes);
  assert.throws(() => encodeCodes([4096]), RangeError);
  assert.throws(() => encodeCodes([-1]), RangeError);
});

test('ctx and start in the link: round trip, and the commas of a start list stay readable', () => {
  const state = { ...DEFAULTS, m: 'anim', ctx: encodeCodes(frame(7)), start: '12,0,penguin' };
  const h = formatHash(state);
  assert.match(h, /start=12,0,penguin/);
  assert.deepEqual(parseHash('#' + h), { state, problems: [] });
});

test('bad ctx / start values in the link: a problem each and the default, never a throw', () => {
  for (const bad of ['abc', 'a!b=', '%E0%A4', 'x'.repeat(514), '', 'AA AA']) {
    const { state, problems } = parseHash('#m=anim&ctx=' + bad);
    assert.equal(state.ctx, '', bad);
    assert.equal(problems.length, 1, `${bad}: ${problems}`);
    assert.match(problems[0], /ctx|URL text/);
  }
  for (const bad of ['1,2,3,4,5,6,7,8,9', 'a b', ',', '1,,2']) {
    const { state, problems } = parseHash('#start=' + encodeURIComponent(bad));
    assert.equal(state.start, '', bad);
    assert.equal(problems.length, 1, bad);
  }
});

test('a valid ctx decodes that frame, one clip per slot (different futures), in the class asked for', () => {
  const ctx = encodeCodes(frame(5));
  const r = resolveClips({ ...DEFAULTS, ctx, cls: '3' }, FILE, CONFIG, 3);
  assert.equal(r.carried, true);
  assert.deepEqual(r.problems, []);
  assert.equal(r.clips.length, 3);
  for (const c of r.clips) { assert.deepEqual(c.context, frame(5)); assert.equal(c.cls, 3); assert.equal(c.start, null); }
  // mix has no category for a carried frame: unconditional.
  assert.equal(resolveClips({ ...DEFAULTS, ctx }, FILE, CONFIG, 1).clips[0].cls, CONFIG.classes);
});

test('a ctx that does not fit the model is a problem, and the held-out starts decode instead', () => {
  const cases = {
    short: encodeCodes(frame(1).slice(0, 63)),
    long: encodeCodes([...frame(1), 3]),
    outside: encodeCodes([...frame(1).slice(0, 63), 600]),
    garbage: 'A',
  };
  for (const [what, ctx] of Object.entries(cases)) {
    const r = resolveClips({ ...DEFAULTS, ctx }, FILE, CONFIG, 2);
    assert.equal(r.carried, false, what);
    assert.equal(r.problems.length, 1, what);
    assert.match(r.problems[0], /given frame/, what);
    assert.deepEqual(r.clips.map((c) => c.start), defaultStarts(FILE.starts, 2), what);
  }
});

test('start lists: numbers or names, unknown ones reported, defaults sized to the device', () => {
  assert.deepEqual(parseStartList('2,PENGUIN,5', FILE.starts), { picks: [2, 0, 5], problems: [] });
  const r = parseStartList('1,99,nope,1', FILE.starts);
  assert.deepEqual(r.picks, [1]);
  assert.equal(r.problems.length, 2);
  assert.equal(parseStartList('0,1,2,3,4,5,0,1,2', FILE.starts).picks.length, 6);
  // The defaults are DEFAULT_STARTS where the list has them, then the list's first clips.
  assert.deepEqual(defaultStarts(FILE.starts, 2), [0, 1]);
  assert.deepEqual(defaultStarts(FILE.starts, 5), [0, 1, 3, 5, 2]);
  const mixed = resolveClips({ ...DEFAULTS, start: '4,3' }, FILE, CONFIG, 2);
  assert.deepEqual(mixed.clips.map((c) => [c.start, c.cls]), [[4, 0], [3, 1]], 'mix: each start in its own category');
  assert.equal(resolveClips({ ...DEFAULTS, start: '4', cls: 'null' }, FILE, CONFIG, 2).clips[0].cls, CONFIG.classes);
  const none = resolveClips({ ...DEFAULTS, start: '77' }, FILE, CONFIG, 2);
  assert.equal(none.problems.length, 1);
  assert.deepEqual(none.clips.map((c) => c.start), [0, 1]);
});

test('picker clicks: add (oldest out beyond the clip count), remove, never empty', () => {
  assert.deepEqual(toggleStart([0, 1], 5, 2), [1, 5]);
  assert.deepEqual(toggleStart([0, 1], 5, 4), [0, 1, 5]);
  assert.deepEqual(toggleStart([0, 1], 1, 4), [0]);
  assert.deepEqual(toggleStart([3], 3, 4), [3]);
});

test('an image carries its codes only to a clip model of the same tokenizer', () => {
  const codes = frame(9);
  assert.equal(carriedFrame({ fromTokenizer: 'models/t.safetensors', toTokenizer: 'models/t.safetensors', codes, config: CONFIG }), encodeCodes(codes));
  assert.equal(carriedFrame({ fromTokenizer: 'models/a.safetensors', toTokenizer: 'models/t.safetensors', codes, config: CONFIG }), null);
  assert.equal(carriedFrame({ fromTokenizer: 'models/t.safetensors', toTokenizer: 'models/t.safetensors', codes: codes.slice(1), config: CONFIG }), null);
});

test('clips per decode: two on a software GPU asked to run WebGPU (gpu=1), four elsewhere', () => {
  const soft = { bundle: Bundle.webgpu, software: true }, hard = { bundle: Bundle.webgpu, software: false }, cpu = { bundle: Bundle.cpu, software: false };
  assert.equal(clipsFor(soft, DEFAULTS), 4, 'on the CPU engine');
  assert.equal(clipsFor(soft, { ...DEFAULTS, gpu: true }), 2);
  assert.equal(clipsFor(hard, DEFAULTS), 4);
  assert.equal(clipsFor(cpu, DEFAULTS), 4);
  assert.ok(MAX_CLIPS >= 4);
  // gpu= in the link: a flag like cpu=.
  assert.equal(parseHash('#m=anim&gpu=1').state.gpu, true);
  assert.match(formatHash({ ...DEFAULTS, gpu: true }), /gpu=1/);
  assert.equal(parseHash('#gpu=yes').problems.length, 1);
});

test('a held-out start carries its real frames; the real strip shows the given frame, then them', () => {
  const r = resolveClips({ ...DEFAULTS, start: '2' }, FILE, CONFIG, 2);
  assert.deepEqual(r.clips[0].future, FILE.starts[2].future);
  const clip = r.clips[0];
  assert.deepEqual(realFrameView(clip, 0, CONFIG, null).step.predicted[0], frame(2));
  assert.deepEqual(realFrameView(clip, 3, CONFIG, null).step.predicted[0], frame(203));
  assert.equal(realFrameView(clip, 3, CONFIG, null).image, null, 'palette colours until decoded');
  const pixels = Array.from({ length: 8 }, (_, f) => ({ f }));
  assert.deepEqual(realFrameView(clip, 3, CONFIG, pixels).image, { f: 3 });
  assert.deepEqual(realFrameView(clip, 0, CONFIG, pixels).image, { f: 0 }, 'the given frame decoded with the rest');
  // A carried frame has no real future.
  assert.equal(resolveClips({ ...DEFAULTS, ctx: encodeCodes(frame(5)) }, FILE, CONFIG, 1).clips[0].future, null);
});

test('a start list that does not fit the model is refused with the reason', () => {
  assert.equal(startsProblem(FILE, CONFIG, null), null);
  assert.match(startsProblem({ ...FILE, codebook: 1024 }, CONFIG, null), /1024 codes/);
  assert.match(startsProblem({ ...FILE, tokenizer_sha256: 'aa' }, CONFIG, 'bb'), /another tokenizer/);
  assert.match(startsProblem({ ...FILE, starts: [{ n: 0, name: 'x', label: 0, codes: [1, 2] }] }, CONFIG, null), /64 codes/);
  assert.match(startsProblem(null, CONFIG, null), /empty/);
  assert.match(startsProblem({ ...FILE, starts: [{ ...FILE.starts[0], future: frame(1) }] }, CONFIG, null), /real frames do not hold 448/);
  assert.match(startsProblem({ ...FILE, starts: [{ ...FILE.starts[0], future: FILE.starts[0].future.map(() => 512) }] }, CONFIG, null), /real frames/);
  const { future, ...noFuture } = FILE.starts[0];
  assert.equal(startsProblem({ ...FILE, starts: [noFuture] }, CONFIG, null), null, 'the real frames are optional');
});

// The staged list (scripts/build-web.sh → www/models/): the held-out clips' first frames.
const manifestPath = path.join(repo, 'www/models/manifest.json');
const manifest = fs.existsSync(manifestPath) ? JSON.parse(fs.readFileSync(manifestPath, 'utf8')) : null;
const clipModel = manifest && manifest.models.find((m) => m.kind === 'clip');
test('the staged start list: every held-out clip’s first frame, pinned in the manifest', { skip: !clipModel && 'no clip model staged' }, async () => {
  const file = clipModel.starts.replace(/^models\//, '');
  const bytes = fs.readFileSync(path.join(repo, 'www/models', file));
  const { createHash } = await import('node:crypto');
  assert.equal(manifest.files[file].sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.ok(clipModel.page_files.includes(clipModel.starts));
  assert.equal(manifest.models.find((m) => m.id === manifest.default).kind, 'image', 'the page opens on an image model');
  const list = JSON.parse(bytes.toString('utf8'));
  assert.equal(list.tokenizer_sha256, manifest.files[clipModel.tokenizer.replace(/^models\//, '')].sha256);
  assert.equal(list.starts.length, 81);
  assert.equal(startsProblem(list, CONFIG, list.tokenizer_sha256), null);
  assert.deepEqual(list.starts.map((s) => s.n), list.starts.map((_, i) => i));
  for (const name of DEFAULT_STARTS) assert.ok(list.starts.some((s) => s.name === name), `${name} is a held-out start`);
  // The first frame of held-out clip 0 is the first 64 codes of the source's first held-out clip.
  const src = fs.readFileSync(path.join(repo, list.source));
  const n = Number(src.readBigUInt64LE(0));
  const header = JSON.parse(src.subarray(8, 8 + n).toString());
  const split = src.subarray(8 + n + header.split.data_offsets[0], 8 + n + header.split.data_offsets[1]);
  const first = split.indexOf(1);
  const at = 8 + n + header.codes.data_offsets[0] + first * 512 * 2;
  assert.deepEqual(list.starts[0].codes, Array.from({ length: 64 }, (_, i) => src.readUInt16LE(at + 2 * i)));
  assert.deepEqual(list.starts[0].future, Array.from({ length: 448 }, (_, i) => src.readUInt16LE(at + 2 * (64 + i))), 'its real frames 1…7');
});
