// The docs' current quality tables are rendered from the shipped NAME.eval.json files
// (scripts/lib/eval-markdown.mjs): a re-measured model whose docs were not refreshed fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { evalBlocks, evalMarkdown, refreshEvalBlocks } from '../../scripts/lib/eval-markdown.mjs';

const repo = new URL('../../', import.meta.url);
const read = (file) => fs.readFileSync(new URL(file, repo), 'utf8');

test('every marked table in the docs is what its eval.json renders to', () => {
  for (const doc of ['docs/MODEL_CARD.md', 'docs/RESULTS.md']) {
    const text = read(doc);
    const blocks = evalBlocks(text);
    assert.ok(blocks.length >= 2, `${doc}: the current tables are marked`);
    for (const b of blocks) {
      assert.equal(b.text.trim(), evalMarkdown(JSON.parse(read(b.table))),
        `${doc}: the table of ${b.table} is stale: run node scripts/eval-markdown.mjs --write ${doc}`);
    }
  }
});

test('the model card shows every shipped model\'s measured table', () => {
  const registry = JSON.parse(read('models/models.json'));
  const marked = new Set(evalBlocks(read('docs/MODEL_CARD.md')).map((b) => b.table));
  for (const m of registry.models) {
    assert.ok(marked.has(`models/${m.weights.replace(/\.safetensors$/, '.eval.json')}`), `${m.id}: no table in docs/MODEL_CARD.md`);
  }
});

test('a stale block is re-rendered and nothing outside the markers changes', () => {
  const doc = 'before\n<!-- eval-table t.json -->\nold rows\n<!-- /eval-table -->\nafter\n';
  const table = { baseline: { schedule: 'XL12', cache: 'off' }, settings: { samples: 10, seed: 0, tau: 8, temperature: 1, guidance: 0 },
    rows: [{ schedule: 'XL12', cache: 'off', fid: 100, fid_ci95: [90, 110], precision: 0.8, recall: 0.4, class_accuracy: 0.5, gflops_per_image: 7.8, flops_ratio: 1 },
      { schedule: 'S3M3L3XL3', cache: 'on', fid: 110, fid_ci95: [99, 121], precision: 0.8, recall: 0.4, class_accuracy: 0.4, gflops_per_image: 1.6, flops_ratio: 4.83 }] };
  const fresh = refreshEvalBlocks(doc, () => JSON.stringify(table));
  assert.ok(fresh.startsWith('before\n<!-- eval-table t.json -->\n') && fresh.endsWith('<!-- /eval-table -->\nafter\n'), fresh);
  assert.ok(!fresh.includes('old rows'));
  assert.match(fresh, /\| S3M3L3XL3 \(MaGNeTS, paper split\) \| on \| 110\.00 \[99\.00, 121\.00\] \| \+10\.0% \|/);
  assert.equal(refreshEvalBlocks(fresh, () => JSON.stringify(table)), fresh, 'rendering is idempotent');
});

test('a second test seed renders each gap against its own seed\'s baseline', () => {
  const row = (schedule, cache, fid, flops_ratio) => ({ schedule, cache, fid, fid_ci95: [fid - 10, fid + 10], precision: 0.8, recall: 0.4, class_accuracy: 0.5, gflops_per_image: 7.8 / flops_ratio, flops_ratio });
  const table = { baseline: { schedule: 'XL12', cache: 'off' }, settings: { samples: 10, seed: 0, tau: 8, temperature: 1, guidance: 0 },
    rows: [row('XL12', 'off', 100, 1), row('S3M3L3XL3', 'on', 110, 4.83)],
    confirm: { seed: 2000, samples: 10, rows: [row('XL12', 'off', 120, 1), row('S3M3L3XL3', 'on', 150, 4.83)] } };
  const md = evalMarkdown(table);
  assert.match(md, /A second test seed \(2000; 10 samples per row/);
  // +25% against seed 2000's own baseline (150 / 120), +10% beside it from seed 0.
  assert.match(md, /\| S3M3L3XL3 \(MaGNeTS, paper split\) \| on \| 150\.00 \[140\.00, 160\.00\] \| \+25\.0% \| \+10\.0% \| 0\.500 \| 4\.83× \|/);
});

test('a table measured with features shows each gap with its paired interval, in both seeds\' tables', () => {
  const row = (schedule, cache, fid, flops_ratio, gap_ci95) => ({ schedule, cache, fid, fid_ci95: [fid - 10, fid + 10], precision: 0.8, recall: 0.4, class_accuracy: 0.5, gflops_per_image: 7.8 / flops_ratio, flops_ratio, ...(gap_ci95 ? { gap: fid / 100 - 1, gap_ci95 } : {}) });
  const table = { baseline: { schedule: 'XL12', cache: 'off' }, settings: { samples: 10, seed: 0, tau: 8, temperature: 1, guidance: 0 },
    rows: [row('XL12', 'off', 100, 1), row('S3M3L3XL3', 'on', 116.1, 4.83, [0.117, 0.205]), row('M1L7XL4', 'on', 99, 3.14, [-0.031, 0.012])],
    confirm: { seed: 2000, samples: 10, rows: [row('XL12', 'off', 100, 1), row('S3M3L3XL3', 'on', 113.9, 4.83, [0.098, 0.181])] } };
  const md = evalMarkdown(table);
  assert.match(md, /\| vs baseline \[paired 95%\] \|/);
  assert.match(md, /\| S3M3L3XL3 \(MaGNeTS, paper split\) \| on \| 116\.10 \[106\.10, 126\.10\] \| \+16\.1% \[\+11\.7%, \+20\.5%\] \|/);
  assert.match(md, /\| M1L7XL4 \| on \| 99\.00 \[89\.00, 109\.00\] \| −1\.0% \[−3\.1%, \+1\.2%\] \|/);
  assert.match(md, /\| vs baseline, seed 2000 \[paired 95%\] \| vs baseline, seed 0 \[paired 95%\] \|/);
  assert.match(md, /\| on \| 113\.90 \[103\.90, 123\.90\] \| \+13\.9% \[\+9\.8%, \+18\.1%\] \| \+16\.1% \[\+11\.7%, \+20\.5%\] \|/);
  const without = evalMarkdown({ ...table, rows: table.rows.map(({ gap, gap_ci95, ...r }) => r), confirm: undefined });
  assert.ok(!without.includes('paired'), 'a table without features renders as before');
});
