// Page benchmark (not a test): loads the page in headless Chromium and reports what it measured
// itself — time to ready, time to the first finished grid (last step decoded to pixels), and
// per-step decode times of MaGNeTS vs the MaskGIT baseline in compare mode, in one run.
//   node tests/browser/measure.mjs [--cpu] [--steps 12]      (needs www/ built and a server:
//   node scripts/serve.mjs --root www --port 8799 &)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const cpu = args.includes('--cpu');
const steps = Number(args[args.indexOf('--steps') + 1] || 12) || 12;
const url = process.env.MAGNETS_URL || 'http://127.0.0.1:8799/';
const flags = ['--headless=new', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
  ...(cpu ? ['--disable-blink-features=WebGPU'] : ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=native'])];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'magnets-measure-'));
const ctx = await chromium.launchPersistentContext(dir, { executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: flags });
const page = await ctx.newPage();
// 1. First visit, default page: time to the first finished grid.
await page.goto(`${url}#T=${steps}`);
await page.waitForFunction(() => window.magnets && window.magnets.metrics.firstGridMs != null, null, { timeout: 1800000, polling: 250 });
const first = await page.evaluate(() => ({ ...window.magnets.metrics }));
// 2. Compare mode (a second visit: weights from the cache): per-step times of both schedules.
await page.goto('about:blank');
await page.goto(`${url}#cmp=1&T=${steps}`);
await page.waitForFunction(() => ['done', 'error', 'error-run'].includes(document.body.dataset.status), null, { timeout: 1800000, polling: 500 });
await page.waitForFunction(() => document.body.dataset.images === 'done', null, { timeout: 1800000, polling: 500 });
const r = await page.evaluate(() => {
  const m = window.magnets;
  const run = (id) => m.runs[id] && { schedule: m.runs[id].schedule, ms: m.runs[id].steps.map((s) => s.ms), width: m.runs[id].steps.map((s) => s.width_name), rows: m.runs[id].steps.map((s) => s.rows), gflops: m.runs[id].trace.total_flops / 1e9 };
  return { status: document.body.dataset.status, device: m.info.adapter, images: m.info.images, metrics: m.metrics, main: run(m.main), base: run(m.base) };
});
await ctx.close();
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
console.log(`device: ${r.device} (${cpu ? 'CPU fallback' : 'WebGPU'}), images decoded on ${r.images}`);
console.log(`first visit: ready (weights + engine) ${first.readyMs.toFixed(0)} ms; first finished grid (16 images decoded to pixels) ${first.firstGridMs.toFixed(0)} ms`);
console.log('step  ' + r.main.width.map((w, i) => `${i + 1}:${w}`.padStart(7)).join(''));
console.log(`${r.main.schedule.padEnd(10)} ` + r.main.ms.map((x) => x.toFixed(0).padStart(7)).join(''));
console.log(`${r.base.schedule.padEnd(10)} ` + r.base.ms.map((x) => x.toFixed(0).padStart(7)).join(''));
console.log(`mean ms/step: ${r.main.schedule} ${mean(r.main.ms).toFixed(0)}, ${r.base.schedule} ${mean(r.base.ms).toFixed(0)}; ` +
  `baseline/MaGNeTS time ratio ${(mean(r.base.ms) / mean(r.main.ms)).toFixed(2)}x; ` +
  `GFLOPs/image ${r.main.gflops.toFixed(3)} vs ${r.base.gflops.toFixed(3)} (${(r.base.gflops / r.main.gflops).toFixed(2)}x)`);
