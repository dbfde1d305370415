#!/usr/bin/env node
// The page's own speed-up, measured in one run: opens the built page (www/, scripts/build-web.sh)
// in headless Chromium with WebGPU (SwiftShader here; a real GPU where Chromium has one) in
// compare mode, so the MaskGIT baseline and a schedule decode the same classes and seed one after
// the other, and prints the wall-clock of each decode (the sum of its steps' ms as the page
// measures them) and their ratio.
//
//   node scripts/page-bench.mjs [--model d256] [--schedule S3M3L3XL3] [--steps 12] [--gpu|--cpu]
//
// Run it alone: the two decodes share the CPU with whatever else runs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(path.join(repo, 'tests/browser/package.json'))('playwright-core');
const { CHROMIUM, COMMON, WEBGPU, NO_WEBGPU } = await import(pathToFileURL(path.join(repo, 'tests/browser/chromium.mjs')).href);
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const model = arg('--model', 'd256');
const schedule = arg('--schedule', 'S3M3L3XL3');
const steps = Number(arg('--steps', '12'));
const cpu = process.argv.includes('--cpu');
const PORT = 8797;
const www = path.join(repo, 'www');
if (!fs.existsSync(path.join(www, 'models/manifest.json'))) throw new Error('www/models/manifest.json is missing: run scripts/build-web.sh first');

const server = spawn(process.execPath, [path.join(repo, 'scripts/serve.mjs'), '--root', www, '--port', String(PORT), '--base', '/', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((resolve, reject) => { server.stdout.once('data', resolve); server.once('exit', (c) => reject(new Error(`server exited ${c}`))); });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'magnets-bench-'));
const ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: [...COMMON, ...(cpu ? NO_WEBGPU : WEBGPU)] });
try {
  const page = ctx.pages()[0] || (await ctx.newPage());
  // gpu=1: a clip model would otherwise run on the CPU engine on a software GPU.
  await page.goto(`http://127.0.0.1:${PORT}/#m=${model}&cmp=1&s=${schedule}&T=${steps}${cpu ? '&cpu=1' : '&gpu=1'}`);
  await page.waitForFunction(() => ['done', 'error', 'error-run'].includes(document.body.dataset.status), null, { timeout: 3600000, polling: 500 });
  const r = await page.evaluate(() => {
    const m = window.magnets;
    const run = (x) => ({ schedule: x.trace.schedule || x.schedule, steps_ms: x.steps.map((s) => Math.round(s.ms)), total_ms: Math.round(x.steps.reduce((a, s) => a + s.ms, 0)), gflops: x.trace.total_flops / 1e9 });
    return { status: document.body.dataset.status, device: m.info && (m.info.adapter || m.bundle), model: document.body.dataset.model, main: run(m.runs[m.main]), base: run(m.runs[m.base]) };
  });
  if (r.status !== 'done') throw new Error(`the page ended with ${r.status}: ${await page.textContent('#banner')}`);
  r.speedup = Number((r.base.total_ms / r.main.total_ms).toFixed(2));
  r.flops_ratio = Number((r.base.gflops / r.main.gflops).toFixed(2));
  console.log(JSON.stringify(r, null, 1));
} finally {
  await ctx.close();
  server.kill();
}
