// scripts/eval-table.mjs's and scripts/eval-clips-table.mjs's plumbing, run against a stand-in for
// the `magnets` binary (no decoding): test rows keep their features and get their gap's paired
// interval from one `fid-gap` call, cached rows are reused, and a cached test row without
// features is measured again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repo = new URL('../../', import.meta.url).pathname;

// `magnets eval | eval-clips | fid-gap | eval-images … --json`, answered from the arguments alone:
// a row's FID is a function of its schedule, its "features" file records that FID, and every call
// is logged (fid-gap with the reference it was given).
const STUB = `#!/usr/bin/env node
const fs = require('node:fs');
const [cmd, ...args] = process.argv.slice(2);
const flag = (name) => { const i = args.indexOf(name); return i < 0 ? undefined : args[i + 1]; };
fs.appendFileSync(process.env.STUB_LOG, [cmd, flag('--schedule'), flag('--seed'), args.includes('--features-out') ? 'features' : '', ...(flag('--clips') ? [flag('--clips')] : [])].join(' ') + '\\n');
const fidOf = (schedule, seed) => (schedule === 'XL12' ? 100 : 100 + schedule.length) + Number(seed) / 1000;
if (cmd === 'eval') {
  const [schedule, seed, samples] = [flag('--schedule'), Number(flag('--seed')), Number(flag('--samples'))];
  const fid = fidOf(schedule, seed);
  if (flag('--features-out')) fs.writeFileSync(flag('--features-out'), JSON.stringify({ schedule, cache: flag('--cache'), fid }));
  console.log(JSON.stringify({ schedule, cache: flag('--cache'), samples, seed, seeds: [seed, seed + Math.ceil(samples / 64) - 1],
    temperature: Number(flag('--temperature')), noise: Number(flag('--noise')), guidance: Number(flag('--guidance')),
    guidance_schedule: flag('--guidance-schedule'), fid, fid_ci95: [fid - 14, fid + 14], precision: 0.8, recall: 0.4,
    class_accuracy: 0.7, class_accuracy_by_class: Array(9).fill(0.7), gflops_per_image: 3, flops_ratio: schedule === 'XL12' ? 1 : 5 }));
} else if (cmd === 'eval-clips') {
  const [schedule, seed, perClip] = [flag('--schedule'), Number(flag('--seed')), Number(flag('--per-clip'))];
  const fid = fidOf(schedule, seed) / 10;
  if (flag('--features-out')) fs.writeFileSync(flag('--features-out'), JSON.stringify({ schedule, cache: flag('--cache'), fid }));
  console.log(JSON.stringify({ schedule, cache: flag('--cache'), clips: 67 * perClip, per_clip: perClip, seed, seeds: [seed, seed + 5 * perClip - 1],
    temperature: Number(flag('--temperature')), noise: Number(flag('--noise')), guidance: Number(flag('--guidance')),
    guidance_schedule: flag('--guidance-schedule'), frame_fid: fid, frame_fid_ci95: [fid - 3, fid + 3], precision: 0.8, recall: 0.4,
    motion: 10, real_motion: 15, real_recon_motion: 15, motion_ratio: 0.67, future_psnr: 14.8, copy_first_frame_psnr: 15.8,
    gflops_per_clip: 17, flops_ratio: schedule === 'XL12' ? 1 : 4.5 }));
} else if (cmd === 'fid-gap') {
  const read = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
  const base = read(flag('--baseline'));
  const others = args.flatMap((a, i) => (a === '--other' ? [read(args[i + 1])] : []));
  console.log(JSON.stringify({ rows: others.map((o) => ({ schedule: o.schedule, cache: o.cache,
    gap: { fid: o.fid, fid_baseline: base.fid, gap: o.fid / base.fid - 1, gap_ci95: [o.fid / base.fid - 1.04, o.fid / base.fid - 0.96] } })) }));
} else if (cmd === 'eval-images') {
  console.log(JSON.stringify({ count: 1193, class_accuracy: 0.87, class_accuracy_by_class: Array(9).fill(0.87) }));
} else {
  process.exit(2);
}
`;

// A scratch folder with models/models.json, the stub and `run(script, args)`: the table and the
// stub's calls; `done()` removes it.
function scratch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-table-'));
  fs.mkdirSync(path.join(dir, 'models'));
  fs.copyFileSync(path.join(repo, 'models/models.json'), path.join(dir, 'models/models.json'));
  const stub = path.join(dir, 'magnets-stub.cjs');
  fs.writeFileSync(stub, STUB, { mode: 0o755 });
  const log = path.join(dir, 'calls.log');
  const out = path.join(dir, 'table.json');
  const run = (script, args) => {
    fs.writeFileSync(log, '');
    execFileSync('node', [path.join(repo, script), ...args, '--bin', stub, '--out', out],
      { cwd: dir, env: { ...process.env, STUB_LOG: log }, stdio: ['ignore', 'ignore', 'pipe'] });
    return { table: JSON.parse(fs.readFileSync(out, 'utf8')), calls: fs.readFileSync(log, 'utf8').trim().split('\n') };
  };
  return { dir, run, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

test('test rows carry their gap\'s paired interval; cached rows are reused, rows without features measured again', () => {
  const { dir, run: runScript, done } = scratch();
  const run = () => runScript('scripts/eval-table.mjs', ['--weights', path.join(repo, 'models/magnets-emoji.safetensors'), '--confirm-seed', '2000']);
  try {
    const { table, calls } = run();
    const base = table.rows.find((r) => r.schedule === 'XL12' && r.cache === 'off');
    assert.ok(!('gap_ci95' in base) && !('features_file' in base), JSON.stringify(base));
    for (const rows of [table.rows, table.confirm.rows]) {
      const cbase = rows.find((r) => r.schedule === 'XL12' && r.cache === 'off');
      for (const r of rows.filter((x) => x !== cbase)) {
        assert.ok(Math.abs(r.gap - (r.fid / cbase.fid - 1)) < 1e-12, `${r.schedule}: the gap of its own row`);
        assert.deepEqual(r.gap_ci95.map((x) => +x.toFixed(9)), [r.gap - 0.04, r.gap + 0.04].map((x) => +x.toFixed(9)));
        assert.ok(!('features_file' in r));
      }
    }
    assert.equal(calls.filter((c) => c.startsWith('fid-gap')).length, 2, 'one fid-gap per test seed');
    assert.ok(calls.filter((c) => c.startsWith('eval ') && c.endsWith(' 1000 ')).length >= 20, 'selection rows keep no features');
    assert.ok(calls.filter((c) => c.startsWith('eval ') && / (0|2000) features$/.test(c)).length === table.rows.length + table.confirm.rows.length);

    assert.deepEqual(run().calls, [''], 'a second run reads every row and gap from the cache');

    // A test row measured before rows kept features: measured again, and the gaps with it.
    const cached = fs.readdirSync(path.join(dir, 'data/eval10k'));
    const features = cached.find((f) => f.includes('.S3M3L3XL3.on.10000.0.') && f.endsWith('.features.safetensors'));
    fs.rmSync(path.join(dir, 'data/eval10k', features));
    const again = run();
    assert.deepEqual(again.calls.filter((c) => c.startsWith('eval')), ['eval S3M3L3XL3 0 features']);
    assert.deepEqual(again.table, table);
  } finally {
    done();
  }
});

test('a clip table\'s test rows carry their frame-FID gap, compared against the clips they were scored on', () => {
  const { dir, run: runScript, done } = scratch();
  const clips = 'data/anim32-noto.safetensors';
  const run = () => runScript('scripts/eval-clips-table.mjs', ['--weights', path.join(repo, 'models/magnets-anim.safetensors'),
    '--tokens', path.join(repo, 'models/anim/noto_tokens.safetensors'), '--clips', clips, '--classifier', path.join(repo, 'models/all-art/classifier.safetensors')]);
  try {
    const { table, calls } = run();
    assert.equal(table.kind, 'clip');
    const base = table.rows.find((r) => r.schedule === 'XL12' && r.cache === 'off');
    assert.ok(!('gap_ci95' in base) && !('features_file' in base), JSON.stringify(base));
    for (const r of table.rows.filter((x) => x !== base)) {
      assert.ok(Math.abs(r.gap - (r.fid / base.fid - 1)) < 1e-12, `${r.schedule}: the gap of its own row`);
      assert.equal(r.gap_ci95.length, 2);
      assert.ok(!('features_file' in r));
    }
    assert.deepEqual(calls.filter((c) => c.startsWith('fid-gap')).map((c) => c.split(/ +/).pop()), [clips], 'one fid-gap, against the held-out clips named');
    assert.equal(calls.filter((c) => / 0 features /.test(c)).length, table.rows.length, 'every test row keeps its features');
    assert.ok(calls.filter((c) => / 1000 /.test(c)).every((c) => !c.includes('features')), 'selection rows keep none');
    assert.deepEqual(run().calls, [''], 'a second run reads every row and the gaps from the cache');
    const features = fs.readdirSync(path.join(dir, 'data/evalclips')).find((f) => f.includes('.L12.on.4.0.') && f.endsWith('.features.safetensors'));
    fs.rmSync(path.join(dir, 'data/evalclips', features));
    const again = run();
    assert.deepEqual(again.calls.filter((c) => c.startsWith('eval')), [`eval-clips L12 0 features ${clips}`]);
    assert.deepEqual(again.table, table);
  } finally {
    done();
  }
});
