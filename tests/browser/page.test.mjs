// Headless Chromium tests of the page (DESIGN §6): WebGPU on SwiftShader, the CPU fallback with
// WebGPU disabled, error paths. The page is served by scripts/serve.mjs under a sub-path with the
// strict Content-Security-Policy, so every test also checks "any static host" + "strict CSP".
// Run: scripts/test-browser.sh (builds first) or `npm test` here with www/ already built.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const www = path.join(repo, 'www');
const artifacts = path.join(here, 'artifacts');
fs.mkdirSync(artifacts, { recursive: true });
const PORT = Number(process.env.MAGNETS_TEST_PORT || 8787);
const BASE = `http://127.0.0.1:${PORT}/demo/magnets/`;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const COMMON = ['--headless=new', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const WEBGPU = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=native'];
const NO_WEBGPU = ['--disable-blink-features=WebGPU', '--disable-gpu'];
const GEN_TIMEOUT = Number(process.env.MAGNETS_GEN_TIMEOUT_MS || 400000);
const metrics = {};

let server;
const contexts = [];

async function launch(args, viewport = { width: 1280, height: 900 }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'magnets-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: [...COMMON, ...args], viewport,
  });
  contexts.push(ctx);
  return ctx;
}

// Opens the page and collects problems: uncaught errors, CSP violations, console errors.
async function open(ctx, hash = '') {
  const page = ctx.pages()[0] || (await ctx.newPage());
  const problems = [];
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  page.on('console', (m) => {
    const t = m.text();
    if (/Content.Security.Policy|Refused to/i.test(t)) problems.push('csp: ' + t);
  });
  page.problems = problems;
  const resp = await page.goto(BASE + (hash ? '#' + hash : ''));
  assert.equal(resp.status(), 200);
  assert.match(resp.headers()['content-security-policy'] || '', /wasm-unsafe-eval/);
  return page;
}

const status = (page) => page.evaluate(() => document.body.dataset.status);
async function waitStatus(page, want, timeout = GEN_TIMEOUT) {
  await page.waitForFunction((w) => w.includes(document.body.dataset.status), want, { timeout, polling: 200 });
  return status(page);
}
async function waitDone(page, timeout = GEN_TIMEOUT) {
  const s = await waitStatus(page, ['done', 'error', 'error-run'], timeout);
  if (s !== 'done') assert.fail('generation ended with ' + s + ': ' + (await page.textContent('#banner')));
}
async function waitImages(page, timeout = GEN_TIMEOUT) {
  await page.waitForFunction(() => document.body.dataset.images === 'done', null, { timeout, polling: 250 });
}
const shot = async (page, name, opts = {}) => {
  const file = path.join(artifacts, name + '.png');
  await page.screenshot({ path: file, fullPage: opts.fullPage ?? true });
  return file;
};
const gridData = (page) => page.evaluate(() => ({ ...document.getElementById('grid-main').dataset }));

before(async () => {
  server = spawn(process.execPath, [path.join(repo, 'scripts/serve.mjs'), '--root', www, '--port', String(PORT), '--base', '/demo/magnets/', '--csp', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    server.stdout.once('data', resolve);
    server.once('exit', (c) => reject(new Error('server exited ' + c)));
  });
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  server?.kill();
  fs.writeFileSync(path.join(artifacts, 'metrics.json'), JSON.stringify(metrics, null, 2));
});

test('WebGPU is available in this headless Chromium (SwiftShader)', async () => {
  const ctx = await launch(WEBGPU);
  const page = await ctx.newPage();
  await page.goto(BASE + 'favicon.svg');
  const info = await page.evaluate(async () => {
    if (!navigator.gpu) return null;
    const a = await navigator.gpu.requestAdapter();
    return a && { vendor: a.info.vendor, architecture: a.info.architecture };
  });
  assert.ok(info, 'navigator.gpu.requestAdapter() returned nothing');
  metrics.adapter = info;
  await page.close();
});

test('WebGPU: the page loads, generates, and the steps animate', async () => {
  const ctx = await launch(WEBGPU);
  const page = await open(ctx);
  // While decoding, the grid shows token states painted with the tokenizer's palette (pixels
  // follow after the decode on a software adapter): a coarse emoji, which a person checks here.
  await page.waitForFunction(() => Number(document.getElementById('grid-main').dataset.decoded) >= 6, null, { timeout: GEN_TIMEOUT, polling: 100 });
  assert.equal(await page.evaluate(() => document.body.dataset.preview), 'palette', 'the palette matching the tokenizer loads');
  await shot(page, 'desktop-webgpu-decoding', { fullPage: false });
  await waitDone(page);
  await waitImages(page);
  assert.equal(await page.textContent('#engine-badge'), 'WebGPU');
  assert.ok(await page.isHidden('#banner'), 'no error banner: ' + (await page.textContent('#banner')));
  const m = await page.evaluate(() => window.magnets.metrics);
  metrics.webgpu = { readyMs: m.readyMs, firstGridMs: m.firstGridMs, decodeMs: m.lastDecodeMs };
  const g = await gridData(page);
  assert.equal(g.decoded, '12');
  assert.equal(g.masked, '0', 'the last step leaves nothing masked');
  await shot(page, 'desktop-webgpu');

  // Step through: masked counts fall, some tokens are fixed at every step, states change.
  await page.click('#scrub'); // focus
  await page.evaluate(() => { const s = document.getElementById('scrub'); s.value = '0'; s.dispatchEvent(new Event('input')); });
  let prev = await gridData(page);
  assert.equal(prev.masked, String(16 * 64));
  const seen = [];
  for (let t = 1; t <= 12; t++) {
    await page.click('#next');
    const d = await gridData(page);
    assert.equal(d.step, String(t));
    assert.ok(Number(d.fixedNow) > 0, `step ${t} fixes tokens`);
    assert.ok(Number(d.masked) < Number(prev.masked), `step ${t} unmasks tokens`);
    seen.push(d.masked);
    prev = d;
    if (t === 4) await shot(page, 'desktop-webgpu-step4', { fullPage: false });
  }
  assert.equal(new Set(seen).size, 12);
  // Play from the start: the displayed step advances by itself.
  await page.evaluate(() => { const s = document.getElementById('scrub'); s.value = '0'; s.dispatchEvent(new Event('input')); });
  await page.selectOption('#speed', '4');
  await page.click('#play');
  await page.waitForFunction(() => Number(document.getElementById('grid-main').dataset.step) >= 3, null, { timeout: 10000 });
  assert.deepEqual(page.problems, []);

  // Phone width: the layout fits without horizontal scrolling.
  await page.click('#play'); // pause
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal overflow at 390 px (${overflow}px)`);
  await shot(page, 'phone-webgpu');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'phone-webgpu-top', { fullPage: false });
  await page.setViewportSize({ width: 1280, height: 900 });

  // Second visit: the weights come from the Cache API.
  await page.reload();
  await waitStatus(page, ['generating', 'done'], 60000);
  const cached = await page.evaluate(() => window.magnets.metrics.cached || []);
  assert.ok(cached.includes('model weights'), 'weights served from the cache on the second visit');
});

test('WebGPU: width switches in the timeline, editing a bar changes the FLOPs', async () => {
  const ctx = await launch(WEBGPU);
  const page = await open(ctx, 's=S2M2L2XL2');
  await waitStatus(page, ['generating', 'done'], 60000);
  await page.waitForTimeout(300);
  await page.evaluate(() => { location.hash = ''; }); // back to the default schedule
  await waitStatus(page, ['generating', 'done'], 60000);
  const tl = await page.evaluate(() => ({ ...document.getElementById('timeline').dataset }));
  assert.equal(tl.widths, 'S,S,S,M,M,M,L,L,L,XL,XL,XL');
  assert.equal(tl.switches, '3');
  const colours = await page.$$eval('.tcol .tbar', (bars) => bars.map((b) => getComputedStyle(b).backgroundColor));
  assert.equal(new Set(colours).size, 4, 'four widths, four colours');
  const heights = await page.$$eval('.tcol .tbar', (bars) => bars.map((b) => b.getBoundingClientRect().height));
  assert.ok(heights[11] > heights[0] * 3, 'XL bars are much taller than S bars');
  const refreshes = await page.$$eval('.tcol[data-refresh="1"]', (c) => c.map((x) => Number(x.dataset.step)));
  assert.deepEqual(refreshes, [1, 4, 7, 10], 'cache refresh on the first step and at each width switch');

  // The measured quality of the default schedule, as scripts/eval-table.mjs wrote it.
  const table = JSON.parse(fs.readFileSync(path.join(repo, 'models/magnets-emoji.eval.json'), 'utf8'));
  const row = table.rows.find((r) => r.schedule === 'S3M3L3XL3' && r.cache === 'on');
  const base = table.rows.find((r) => r.schedule === table.baseline.schedule && r.cache === table.baseline.cache);
  assert.equal(await page.textContent('#st-fid'), `+${(100 * (row.fid / base.fid - 1)).toFixed(0)}%`);
  assert.equal(await page.textContent('#st-fid-sub'), `${row.fid.toFixed(1)} vs ${base.fid.toFixed(1)}`);

  const before = Number(await page.textContent('#st-gflops'));
  // Drag across the first three bars at the top of the lane: S → XL.
  await page.locator('#timeline').scrollIntoViewIfNeeded();
  const box = async (i) => (await page.locator('.tcol .twidth').nth(i).boundingBox());
  const b0 = await box(0), b2 = await box(2);
  await page.mouse.move(b0.x + b0.width / 2, b0.y + 3);
  await page.mouse.down();
  await page.mouse.move(b2.x + b2.width / 2, b2.y + 3, { steps: 6 });
  await page.mouse.up();
  const after1 = Number(await page.textContent('#st-gflops'));
  assert.ok(after1 > before, `FLOPs grow when S steps become XL (${before} → ${after1})`);
  assert.equal(await page.inputValue('#schedule-text'), 'XL3M3L3XL3');
  assert.match(page.url(), /s=XL3M3L3XL3/);
  // Click one bar near the bottom: XL → S.
  const b11 = await box(11);
  await page.mouse.click(b11.x + b11.width / 2, b11.y + b11.height - 3);
  assert.equal(await page.inputValue('#schedule-text'), 'XL3M3L3XL2S1');
  assert.ok(Number(await page.textContent('#st-gflops')) < after1);
  assert.equal(await page.textContent('#st-fid'), 'not measured', 'an edited schedule has no measured FID');
  await page.waitForTimeout(500);
  await shot(page, 'desktop-edited-schedule', { fullPage: false });

  // "Tuned": the eval table's best measured ≥ 3× schedule, one click away, with its FID.
  const tuned = table.rows.find((r) => r.schedule === table.tuned.schedule && r.cache === table.tuned.cache);
  await page.click('button[data-tuned]');
  assert.equal(await page.inputValue('#schedule-text'), table.tuned.schedule);
  assert.match(page.url(), new RegExp(`s=${table.tuned.schedule}`));
  assert.ok(await page.locator('button[data-tuned]').evaluate((b) => b.classList.contains('active')), 'the Tuned button shows as selected');
  assert.equal(await page.textContent('#st-fid'), `+${(100 * (tuned.fid / base.fid - 1)).toFixed(0)}%`);
  assert.ok(tuned.flops_ratio >= 3);

  // The quality-vs-compute chart: one point per measured row, the current schedule ringed; a
  // click on a point decodes that schedule.
  assert.ok(await page.isVisible('#tradeoff'));
  assert.equal(await page.locator('#tradeoff-plot .pt').count(), table.rows.length);
  assert.deepEqual(await page.$$eval('#tradeoff-plot .pt.current', (p) => p.map((g) => g.dataset.schedule)), [table.tuned.schedule]);
  await page.locator('#tradeoff').scrollIntoViewIfNeeded();
  await page.click('#tradeoff-plot .pt[data-schedule="XL12"][data-cache="off"] circle.hit');
  assert.equal(await page.inputValue('#schedule-text'), 'XL12');
  assert.equal(await page.isChecked('#cache-on'), false);
  assert.equal(await page.textContent('#st-fid'), 'baseline');
  // An unmeasured schedule: no ring, a dashed line at its compute.
  await page.fill('#schedule-text', 'S2M2L2XL6');
  await page.press('#schedule-text', 'Enter');
  assert.equal(await page.locator('#tradeoff-plot .pt.current').count(), 0);
  assert.match(await page.textContent('#tradeoff-plot .now-label'), /S2M2L2XL6: not measured/);
  await page.locator('#tradeoff').screenshot({ path: path.join(artifacts, 'desktop-tradeoff.png') });
  assert.deepEqual(page.problems, []);
});

test('WebGPU: compare mode shows baseline and schedule side by side', async () => {
  const ctx = await launch(WEBGPU);
  // 8 steps keeps the SwiftShader run short (the baseline refreshes all rows at every step).
  const page = await open(ctx, 'cmp=1&T=8');
  await waitDone(page, GEN_TIMEOUT * 2);
  await waitImages(page);
  assert.ok(await page.isVisible('#panel-base'));
  assert.equal(await page.locator('#grid-main canvas').count(), 16);
  assert.equal(await page.locator('#grid-base canvas').count(), 16);
  assert.match(await page.textContent('#base-sub'), /XL8/);
  assert.match(await page.textContent('#main-sub'), /S2M2L2XL2/);
  const runs = await page.evaluate(() => {
    const m = window.magnets;
    const mean = (r) => { const ms = r.steps.map((s) => s.ms).slice(1); return ms.reduce((a, b) => a + b, 0) / ms.length; };
    const main = m.runs[m.main], base = m.runs[m.base];
    return { main: mean(main), base: mean(base), mainFlops: main.trace.total_flops, baseFlops: base.trace.total_flops,
      mainSteps: main.steps.map((s) => s.ms), baseSteps: base.steps.map((s) => s.ms), sameClasses: JSON.stringify(main.request.classes) === JSON.stringify(base.request.classes) && main.request.seed === base.request.seed };
  });
  assert.ok(runs.sameClasses, 'same classes and seed');
  assert.ok(runs.baseFlops > runs.mainFlops);
  metrics.compare_webgpu = runs;
  await shot(page, 'desktop-compare');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'phone-compare');
  assert.deepEqual(page.problems, []);
});

test('WebGPU: the URL round trip restores the state and the same images', async () => {
  const ctx = await launch(WEBGPU);
  const page = await open(ctx, 's=S1');
  await waitStatus(page, ['generating', 'done'], 60000);
  await page.fill('#schedule-text', 'S2L1XL2');
  await page.press('#schedule-text', 'Enter');
  await page.fill('#seed', '7');
  await page.press('#seed', 'Enter');
  await page.selectOption('#class', '2');
  await page.uncheck('#cache-on');
  await page.fill('#tau', '3');
  await page.press('#tau', 'Enter');
  await waitDone(page);
  const url = page.url();
  assert.match(url, /s=S2L1XL2/);
  assert.match(url, /seed=7/);
  const tokens1 = await page.evaluate(() => JSON.stringify(window.magnets.runs[window.magnets.main].trace.tokens));

  const page2 = await ctx.newPage();
  page2.problems = [];
  await page2.goto(url);
  await waitDone(page2);
  assert.equal(await page2.inputValue('#schedule-text'), 'S2L1XL2');
  assert.equal(await page2.inputValue('#seed'), '7');
  assert.equal(await page2.inputValue('#class'), '2');
  assert.equal(await page2.isChecked('#cache-on'), false);
  assert.equal(await page2.inputValue('#tau'), '3');
  const tokens2 = await page2.evaluate(() => JSON.stringify(window.magnets.runs[window.magnets.main].trace.tokens));
  assert.equal(tokens2, tokens1, 'a shared link reproduces the same images');
  const embed = await page2.inputValue('#embed-code');
  assert.match(embed, /^<iframe src="http:\/\/127\.0\.0\.1:\d+\/demo\/magnets\/#.*embed=1/);

  // Embed mode: compact layout.
  const page3 = await ctx.newPage();
  await page3.setViewportSize({ width: 520, height: 760 });
  await page3.goto(url + '&embed=1');
  await waitDone(page3);
  await waitImages(page3);
  assert.ok(await page3.isHidden('.controls'));
  assert.ok(await page3.isVisible('#timeline'));
  assert.ok(await page3.isHidden('#tradeoff'), 'no trade-off chart in the embed');
  await shot(page3, 'embed', { fullPage: false });
});

// Both bundles draw the same counter-based random numbers, so the WebGPU engine and the CPU
// fallback must decode the same tokens for the same URL. XL-only from step 1 (every token masked
// at full width) is the case that once showed noise on WebGPU while the native tests passed.
test('WebGPU and the CPU fallback decode the same tokens (XL8, seed 3)', async () => {
  const hash = 's=XL8&T=8&seed=3';
  const tokens = async (args) => {
    const ctx = await launch(args);
    const page = await open(ctx, hash);
    await waitDone(page);
    const t = await page.evaluate(() => { const a = window.magnets; return a.runs[a.main].trace.tokens; });
    await ctx.close();
    return t;
  };
  const gpu = await tokens(WEBGPU);
  const cpu = await tokens(NO_WEBGPU);
  assert.equal(gpu.length, 16);
  let differ = 0;
  gpu.forEach((row, i) => row.forEach((v, j) => { differ += v !== cpu[i][j]; }));
  assert.equal(differ, 0, `${differ} of ${16 * gpu[0].length} tokens differ between WebGPU and the CPU fallback`);
});

test('WebGPU: a lost GPU device restarts the engine and regenerates the same images', async () => {
  const ctx = await launch(WEBGPU);
  const page = await open(ctx, 's=S2XL4&T=6&seed=5');
  await waitDone(page);
  const tokens = () => page.evaluate(() => { const a = window.magnets; return JSON.stringify(a.runs[a.main].trace.tokens); });
  const before = await tokens();
  // Destroy the device (as a driver reset would), then ask for the same images again.
  await page.evaluate(() => window.magnets.simulateDeviceLoss());
  await page.click('#generate');
  await page.waitForFunction(() => (window.magnets.metrics.recoveries || 0) >= 1, null, { timeout: GEN_TIMEOUT, polling: 200 });
  await waitDone(page);
  await waitImages(page);
  assert.equal(await page.textContent('#engine-badge'), 'WebGPU', 'a new WebGPU device was found');
  assert.match(await page.textContent('#notice'), /GPU device was lost.*restarted/);
  assert.ok(await page.isHidden('#banner'), 'no error banner: ' + (await page.textContent('#banner')));
  assert.equal(await tokens(), before, 'the rebuilt engine decodes the same tokens');
  assert.deepEqual(page.problems, []);
  await shot(page, 'device-lost-recovered', { fullPage: false });

  // A GPU that keeps failing: the third loss moves to the CPU fallback (loaded mid-session).
  for (const n of [2, 3]) {
    await page.evaluate(() => window.magnets.simulateDeviceLoss());
    await page.click('#generate');
    await page.waitForFunction((k) => (window.magnets.metrics.recoveries || 0) >= k, n, { timeout: GEN_TIMEOUT, polling: 200 });
    await waitDone(page);
  }
  await waitImages(page);
  assert.equal(await page.textContent('#engine-badge'), 'CPU fallback (slow)');
  assert.match(await page.textContent('#notice'), /restarted on the CPU fallback \(the GPU device was lost 3 times\)/);
  // Same seed, other engine: the same tokens up to float near-ties (WGSL and burn logits differ by
  // ~1e-6, which can flip an inverse-CDF draw that lands on a boundary: 1 of 1,024 here).
  const a = JSON.parse(before), b = JSON.parse(await tokens());
  let differ = 0;
  a.forEach((row, i) => row.forEach((v, j) => { differ += v !== b[i][j]; }));
  assert.ok(differ <= 10, `${differ} of 1024 tokens differ after moving to the CPU fallback`);
  assert.deepEqual(page.problems, []);
});

test('malformed URL state: a readable message and the defaults', async () => {
  const ctx = await launch(WEBGPU);
  const page = await open(ctx, 's=ZZ99&seed=abc&T=5000&bogus=1&c=maybe&cls=77&%E0%A4%A=1');
  await waitStatus(page, ['generating', 'done'], 60000);
  const banner = await page.textContent('#banner');
  assert.ok(await page.isVisible('#banner'));
  for (const bit of ['seed', 'T:', 'unknown setting', 'cache', 'class 77', 'ZZ99']) assert.ok(banner.includes(bit), `banner mentions ${bit}: ${banner}`);
  assert.equal(await page.inputValue('#schedule-text'), 'S3M3L3XL3');
  assert.equal(await page.inputValue('#seed'), '1');
  // More steps than tokens: a message, then the defaults.
  const page2 = await ctx.newPage();
  page2.problems = [];
  await page2.goto(BASE + '#s=magnets&T=500');
  await waitStatus(page2, ['generating', 'done'], 60000);
  assert.match(await page2.textContent('#banner'), /500 steps/);
  assert.equal(await page2.inputValue('#steps'), '12');
  await shot(page, 'malformed-hash', { fullPage: false });
});

test('missing or corrupt weights: an error message, not a blank page', async () => {
  const corrupt = path.join(www, 'models', 'corrupt-test.safetensors');
  const good = fs.readFileSync(path.join(www, 'models', 'magnets-emoji.safetensors'));
  fs.writeFileSync(corrupt, good.subarray(0, Math.floor(good.length / 2)));
  try {
    const ctx = await launch(WEBGPU);
    const page = await open(ctx, 'w=models/no-such-model.safetensors');
    await waitStatus(page, ['error'], 60000);
    const t1 = await page.textContent('#banner');
    assert.match(t1, /could not download the model weights.*404/s);
    await shot(page, 'missing-weights', { fullPage: false });
    const page2 = await ctx.newPage();
    await page2.goto(BASE + '#w=models/corrupt-test.safetensors');
    await waitStatus(page2, ['error'], 60000);
    const t2 = await page2.textContent('#banner');
    assert.match(t2, /weights file/i);
    await shot(page2, 'corrupt-weights', { fullPage: false });
    const page3 = await ctx.newPage();
    await page3.goto(BASE + '#w=https://example.com/x.safetensors');
    await waitStatus(page3, ['generating', 'done'], 60000);
    assert.match(await page3.textContent('#banner'), /not a relative path/);
  } finally {
    fs.rmSync(corrupt, { force: true });
  }
});

test('WebGPU disabled: the CPU fallback generates', async () => {
  const ctx = await launch(NO_WEBGPU, { width: 390, height: 844 });
  const page = await open(ctx);
  const gpu = await page.evaluate(async () => !!(navigator.gpu && (await navigator.gpu.requestAdapter())));
  assert.equal(gpu, false, 'WebGPU really is off');
  await waitDone(page, GEN_TIMEOUT * 2);
  assert.match(await page.textContent('#engine-badge'), /CPU fallback/);
  assert.ok(await page.isVisible('#notice'));
  const m = await page.evaluate(() => ({ ...window.magnets.metrics, steps: window.magnets.runs[window.magnets.main].steps.map((s) => s.ms) }));
  metrics.cpu = { readyMs: m.readyMs, decodeMs: m.lastDecodeMs, stepMs: m.steps };
  const g = await gridData(page);
  assert.equal(g.masked, '0');
  await shot(page, 'phone-cpu-fallback');
  assert.deepEqual(page.problems, []);
});

test('hostile URL keys (__proto__, constructor, toString…): reported, and the page starts and follows the hash', async () => {
  const ctx = await launch(WEBGPU);
  const page = await open(ctx, '__proto__=1&constructor=1&toString=x&hasOwnProperty=1&seed=9');
  await waitStatus(page, ['generating', 'done'], 60000);
  const banner = await page.textContent('#banner');
  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) assert.ok(banner.includes(`unknown setting “${key}”`), `${key}: ${banner}`);
  assert.doesNotMatch(banner, /could not start/);
  assert.equal(await page.inputValue('#seed'), '9', 'the good setting in the same link applies');
  // The same keys through a hashchange: no exception, and the UI follows the URL.
  await page.evaluate(() => { location.hash = '#constructor=1&valueOf=2&seed=77'; });
  await page.waitForFunction(() => document.getElementById('seed').value === '77', null, { timeout: 60000 });
  assert.match(await page.textContent('#banner'), /unknown setting “valueOf”/);
  await waitStatus(page, ['generating', 'done'], 60000);
  await shot(page, 'hostile-hash', { fullPage: false });
  assert.deepEqual(page.problems, []);
});
