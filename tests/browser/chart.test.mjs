// Label placement of the quality–compute chart (www/chart.js placeLabels) and the name of what a
// shipped eval table measures (www/assets.js tableMetric): pure JS, no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tableMetric } from '../../www/assets.js';
import { placeLabels } from '../../www/chart.js';

const bounds = { left: 46, right: 598, top: 0, bottom: 244 };
const area = (a, b) => Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x)) * Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));

test('a lone point is labelled up and to its right', () => {
  const [p] = placeLabels([{ cx: 200, cy: 100, w: 60 }], [[200, 100]], bounds);
  assert.deepEqual({ x: p.x, y: p.y, anchor: p.anchor }, { x: 208, y: 94, anchor: 'start' });
});

test('a label at the right edge turns to the left of its point', () => {
  const [p] = placeLabels([{ cx: 580, cy: 100, w: 60 }], [[580, 100]], bounds);
  assert.equal(p.anchor, 'end');
  assert.ok(p.box.x + p.box.w <= bounds.right, JSON.stringify(p.box));
});

test('labels of nearby points do not overlap each other or the points', () => {
  const dots = [[200, 100], [215, 104], [230, 96], [205, 118]];
  const placed = placeLabels(dots.map(([cx, cy]) => ({ cx, cy, w: 50, mustShow: true })), dots, bounds);
  for (let i = 0; i < placed.length; i++) {
    for (let j = i + 1; j < placed.length; j++) assert.equal(area(placed[i].box, placed[j].box), 0, `labels ${i} and ${j}`);
  }
  for (const p of placed) for (const [x, y] of dots) assert.equal(area(p.box, { x: x - 3, y: y - 3, w: 6, h: 6 }), 0);
});

test('a label is never nearer to another point than to its own', () => {
  const gap = (b, [px, py]) => Math.hypot(Math.max(b.x - px, 0, px - b.x - b.w), Math.max(b.y - py, 0, py - b.y - b.h));
  // B sits just right of where A's first-choice label would go: that spot would name B.
  const dots = [[200, 100], [266, 90]];
  const [a] = placeLabels([{ cx: 200, cy: 100, w: 50 }], dots, bounds);
  assert.notDeepEqual([a.x, a.y], [208, 94], 'the first-choice spot is refused');
  assert.ok(gap(a.box, dots[0]) <= gap(a.box, dots[1]), JSON.stringify(a));
});

test('on a crowded plot a label that only fits over others is left out, unless it must show', () => {
  const dots = [];
  for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) dots.push([150 + 10 * i, 80 + 10 * j]);
  const labels = dots.map(([cx, cy]) => ({ cx, cy, w: 80 }));
  labels.push({ cx: 180, cy: 110, w: 80, mustShow: true });
  const placed = placeLabels(labels, dots, bounds);
  assert.ok(placed.slice(0, -1).some((p) => p === null), 'some labels are dropped');
  assert.ok(placed[placed.length - 1] !== null, 'the one that must show is placed');
  assert.ok(placed.filter(Boolean).length >= 1);
});

test("the shipped tables name their measure: FID-emoji per image, frame-FID per predicted clip", () => {
  const registry = JSON.parse(fs.readFileSync(new URL('../../models/models.json', import.meta.url), 'utf8'));
  const kinds = new Set();
  for (const m of registry.models) {
    const file = new URL(`../../models/${m.weights.replace(/\.safetensors$/, '.eval.json')}`, import.meta.url);
    if (!fs.existsSync(file)) continue;
    const t = JSON.parse(fs.readFileSync(file, 'utf8'));
    const named = tableMetric(t);
    kinds.add(named.metric);
    if (t.kind === 'clip') {
      assert.deepEqual([named.metric, named.unit], ['frame-FID', 'clip'], m.id);
      assert.match(named.count, new RegExp(`^${t.rows[0].clips} predicted clips`), m.id);
    } else {
      assert.deepEqual([named.metric, named.unit], ['FID-emoji', 'image'], m.id);
      assert.equal(named.count, `${t.settings.samples.toLocaleString('en-US')} samples`, m.id);
    }
    assert.ok(named.what.startsWith(named.metric), named.what);
  }
  assert.deepEqual([...kinds].sort(), ['FID-emoji', 'frame-FID'], 'an image table and a clip table are shipped');
});

test('the FID card shows the gap\'s paired interval when the table has one, and only then', async () => {
  const { renderStats } = await import('../../www/stats.js');
  const el = () => ({ textContent: '', title: '', classList: { remove() {}, toggle() {} } });
  const els = Object.fromEntries(['gflops', 'ratio', 'ms', 'msSub', 'fid', 'fidSub', 'device', 'mainSub', 'baseSub'].map((k) => [k, el()]));
  const table = { kind: 'image', settings: { seed: 0, samples: 10000 }, command: 'magnets eval …' };
  const base = { schedule: 'XL12', cache: 'off', fid: 98.9 };
  const row = { schedule: 'S3M3L3XL3', cache: 'on', fid: 114.8, gap: 0.161, gap_ci95: [0.117, 0.205] };
  renderStats(els, { plan: null, quality: { row, base, table }, haveTable: true, info: null });
  assert.equal(els.fid.textContent, '+16%');
  assert.equal(els.fidSub.textContent, '114.8 vs 98.9 · 95% +12…+21%');
  assert.match(els.fid.title, /paired bootstrap/);
  const { gap, gap_ci95, ...plain } = row;
  renderStats(els, { plan: null, quality: { row: plain, base, table }, haveTable: true, info: null });
  assert.equal(els.fidSub.textContent, '114.8 vs 98.9');
  assert.doesNotMatch(els.fid.title, /paired/);
  renderStats(els, { plan: null, quality: { row: base, base, table }, haveTable: true, info: null });
  assert.equal(els.fidSub.textContent, '98.9', 'the baseline has no gap to itself');
});

test('one wording of a gap to the baseline: the card, the budget sentence and the chart\'s tooltips', async () => {
  const { gapToBaseline, describeBudget } = await import('../../www/budget.js');
  const base = { schedule: 'XL12', cache: 'off', fid: 98.9, gflops_per_image: 15.6 };
  const split = { schedule: 'S3M3L3XL3', cache: 'on', fid: 114.8, gflops_per_image: 3.2, gap_ci95: [0.117, 0.205] };
  const even = { schedule: 'L6XL6', cache: 'on', fid: 98.95, gflops_per_image: 6.2, gap_ci95: [-0.031, 0.004] };
  assert.equal(gapToBaseline(base, base), null, 'the baseline has no gap to itself');
  assert.deepEqual(gapToBaseline(split, base), { text: '+16%', interval: '+12…+21%' });
  assert.deepEqual(gapToBaseline(even, base), { text: '±0%', interval: '−3…±0%' });
  const { gap_ci95: _, ...unpaired } = split;
  assert.deepEqual(gapToBaseline(unpaired, base), { text: '+16%', interval: null }, 'a table measured without features');
  const t = { baseline: { schedule: 'XL12', cache: 'off' }, rows: [base, split, even] };
  const { text } = describeBudget(t, 4, { schedule: 'S3M3L3XL3', gflops: 3.2, fid: 114.8 }, (x) => x.toFixed(1));
  assert.match(text, /^Best measured within it: S3M3L3XL3, FID 114\.8 \(\+16% vs MaskGIT, 95% \+12…\+21%\) at 3\.2 GFLOPs\./);
  assert.match(describeBudget(t, 20, { schedule: 'XL12', gflops: 15.6, fid: 98.9 }, (x) => x.toFixed(1)).text, /FID 98\.9 \(the baseline\)/);
});
