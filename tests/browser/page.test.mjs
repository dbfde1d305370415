// Headless Chromium tests of the page (DESIGN §6): WebGPU on SwiftShader, the CPU fallback with
// WebGPU disabled, error paths. The page is served by scripts/serve.mjs under a sub-path with the
// strict Content-Security-Policy, so every test also checks "any static host" + "strict CSP".
// Run: scripts/test-browser.sh (builds first) or `npm test` here with www/ already built.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import zlib from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, COMMON, WEBGPU, NO_WEBGPU } from './chromium.mjs';
import { encodeCodes } from '../../www/state.js';
import { nativeBinary, runGenerate } from '../../scripts/lib/native-cli.mjs';
import { FAST_ENOUGH_MS } from '../../www/models.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const www = path.join(repo, 'www');
const artifacts = path.join(here, 'artifacts');
fs.mkdirSync(artifacts, { recursive: true });
const PORT = Number(process.env.MAGNETS_TEST_PORT || 8787);
const BASE = `http://127.0.0.1:${PORT}/demo/magnets/`;
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
  ctx.webgpu = args === WEBGPU;
  return ctx;
}

// Opens the page and collects problems: uncaught errors, CSP violations, console errors. In a
// WebGPU browser the link gets gpu=1 unless it says otherwise: SwiftShader is a software GPU,
// where the page would run the CPU engine (models.js runsOnCpu), and these tests are of WebGPU.
async function open(ctx, hash = '') {
  if (ctx.webgpu && !/(^|&)gpu=/.test(hash)) hash = hash ? `${hash}&gpu=1` : 'gpu=1';
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
// Moves the timeline's step slider as a visitor would (to a step, or 'last'), firing its input event.
async function scrubTo(page, step) {
  await page.evaluate((v) => { const s = document.getElementById('scrub'); s.value = v === 'last' ? s.max : String(v); s.dispatchEvent(new Event('input')); }, step);
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
  await scrubTo(page, 0);
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
  await scrubTo(page, 0);
  await page.selectOption('#speed', '4');
  await page.click('#play');
  await page.waitForFunction(() => Number(document.getElementById('grid-main').dataset.step) >= 3, null, { timeout: 10000 });
  assert.deepEqual(page.problems, []);

  // Phone width: the layout fits without horizontal scrolling (shown on the finished pictures).
  await page.click('#play'); // pause
  await scrubTo(page, 'last');
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

  // Generate again while the finished decode's step pictures are still being decoded: the new
  // generation gets all its pictures (the one it replaced ends instead of yielding back).
  await waitDone(page);
  const first = await page.evaluate(() => ({ main: window.magnets.main, images: document.body.dataset.images }));
  assert.equal(first.images, 'pending', 'the step pictures are still decoding when "done" shows');
  await page.click('#generate');
  await page.waitForFunction((id) => window.magnets.main !== id && document.body.dataset.status === 'done', first.main, { timeout: GEN_TIMEOUT, polling: 200 });
  await waitImages(page, 60000);
  assert.deepEqual(page.problems, []);
});

// The default model is the quality one; on a software GPU the page starts with the light one
// and says why; the Model menu switches (a new engine on the other weights) and the link keeps it.
test('WebGPU: the page starts a software GPU on the light model; the Model menu decodes with the default', async (t) => {
  const manifest = JSON.parse(fs.readFileSync(path.join(www, 'models/manifest.json'), 'utf8'));
  const light = manifest.models.find((m) => m.light && m.kind !== 'clip');
  if (manifest.models.length < 2 || !light || light.id === manifest.default) {
    t.skip(`one model to choose from (${manifest.models.map((m) => m.id).join(', ')})`);
    return;
  }
  const ctx = await launch(WEBGPU);
  const page = await open(ctx);
  await waitDone(page);
  assert.equal(await page.evaluate(() => document.body.dataset.model), light.id);
  assert.match(await page.textContent('#notice'), new RegExp(`Running the ${light.name.toLowerCase()} model because a software GPU runs here`));
  assert.ok(await page.isVisible('#model'), 'the Model menu is shown');
  assert.equal(await page.inputValue('#model'), light.id);
  const lightDim = await page.evaluate(() => window.magnets.config.dim);

  await page.selectOption('#model', manifest.default);
  await waitStatus(page, ['loading', 'generating'], 30000);
  await waitDone(page);
  await waitImages(page);
  assert.equal(await page.evaluate(() => document.body.dataset.model), manifest.default);
  assert.match(await page.evaluate(() => location.hash), new RegExp(`m=${manifest.default}`));
  const cfg = await page.evaluate(() => window.magnets.config);
  assert.ok(cfg.dim > lightDim, `the default model is the larger one (D ${cfg.dim} vs ${lightDim})`);
  assert.equal((await gridData(page)).masked, '0');
  assert.match(await page.textContent('#model-badge'), /model/);
  // It decodes with its own sampling settings (models.json), the guidance schedule included, and
  // its eval table was measured with them: the quality card rings the current schedule's point.
  const want = { temperature: 1, tau: 4.5, guidance: 0, guidance_schedule: 'constant', ...manifest.models.find((e) => e.id === manifest.default).sampling };
  const req = await page.evaluate(() => window.magnets.runs[window.magnets.main].request);
  assert.deepEqual([req.temperature, req.tau, req.guidance, req.guidance_schedule], [want.temperature, want.tau, want.guidance, want.guidance_schedule]);
  assert.deepEqual([await page.inputValue('#g'), await page.inputValue('#gs')], [String(want.guidance), want.guidance_schedule]);
  assert.doesNotMatch(await page.textContent('#tradeoff-note'), /differ/);
  assert.ok(await page.isHidden('#notice'), 'the light model\'s note went with it: ' + (await page.textContent('#notice')));
  const m = await page.evaluate(() => window.magnets.metrics);
  metrics.defaultModelWebgpu = { model: manifest.default, dim: cfg.dim, readyMs: m.readyMs, decodeMs: m.lastDecodeMs };
  assert.ok(await page.isHidden('#banner'), 'no error banner: ' + (await page.textContent('#banner')));
  await shot(page, 'desktop-webgpu-default-model');

  // The link names the model: a fresh visit starts on it, on this software GPU too.
  const again = await open(await launch(WEBGPU), `m=${manifest.default}`);
  await waitStatus(again, ['generating', 'done'], GEN_TIMEOUT);
  assert.equal(await again.evaluate(() => document.body.dataset.model), manifest.default);
  assert.deepEqual([...page.problems, ...again.problems], []);
});

test('WebGPU: width switches in the timeline, editing a bar changes the FLOPs', async () => {
  const ctx = await launch(WEBGPU);
  const page = await open(ctx, 's=S2M2L2XL2');
  await waitStatus(page, ['generating', 'done'], 60000);
  await page.waitForTimeout(300);
  await page.evaluate(() => { location.hash = 'gpu=1'; }); // back to the default schedule
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
  // With the gap's paired 95% interval, as the table measured it (rounded to whole percent).
  const [lo, hi] = row.gap_ci95.map((x) => Math.round(100 * x));
  const signed = (p) => `${p > 0 ? '+' : p < 0 ? '−' : '±'}${Math.abs(p)}`;
  assert.equal(await page.textContent('#st-fid-sub'), `${row.fid.toFixed(1)} vs ${base.fid.toFixed(1)} · 95% ${signed(lo)}…${signed(hi)}%`);

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
  await page.click('button[data-tuned="tuned"]');
  assert.equal(await page.inputValue('#schedule-text'), table.tuned.schedule);
  assert.match(page.url(), new RegExp(`s=${table.tuned.schedule}`));
  assert.ok(await page.locator('button[data-tuned="tuned"]').evaluate((b) => b.classList.contains('active')), 'the Tuned button shows as selected');
  assert.equal(await page.textContent('#st-fid'), `+${(100 * (tuned.fid / base.fid - 1)).toFixed(0)}%`);
  assert.ok(tuned.flops_ratio >= 3);
  // "Tuned 4×": the best measured ≥ 4× schedule, beside it, and both marked on the chart.
  // (One button when the two picks are the same schedule.)
  assert.ok(table.tuned_4x, 'the model\'s table has a ≥ 4× pick');
  const tuned4 = table.rows.find((r) => r.schedule === table.tuned_4x.schedule && r.cache === table.tuned_4x.cache);
  assert.ok(tuned4.flops_ratio >= 4);
  const picks = [...new Set([table.tuned.schedule, table.tuned_4x.schedule])];
  assert.equal(await page.locator('button[data-tuned]').count(), picks.length);
  if (picks.length === 2) {
    assert.equal(await page.getAttribute('button[data-tuned="tuned_4x"]', 'data-preset'), table.tuned_4x.schedule);
    assert.match(await page.getAttribute('button[data-tuned="tuned_4x"]', 'title'), new RegExp(`^${table.tuned_4x.schedule}: ${tuned4.flops_ratio.toFixed(1)}× less compute`));
  }
  assert.deepEqual((await page.$$eval('#tradeoff-plot .pt.tuned', (p) => p.map((g) => g.dataset.schedule))).sort(), picks.sort());

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
  // A schedule the model cannot run: the field says why in the Rust parser's words, the error
  // crosses the wasm boundary named by its kind, and the schedule in use stays.
  await page.fill('#schedule-text', 'S2Q3');
  await page.press('#schedule-text', 'Enter');
  assert.equal(await page.getAttribute('#schedule-help', 'data-error-kind'), 'bad-schedule');
  assert.match(await page.textContent('#schedule-help'), /Q/);
  assert.ok(await page.locator('#schedule-help.bad').count() === 1);
  assert.match(page.url(), /s=S2M2L2XL6/);
  // A temperature the sampler refuses: the field says so in the sampler's words, nothing runs.
  await page.fill('#temp', '0.005');
  await page.press('#temp', 'Enter');
  assert.match(await page.getAttribute('#temp', 'data-problem'), /temperature must be 0/);
  assert.ok(await page.locator('#temp.bad').count() === 1);
  assert.doesNotMatch(page.url(), /temp=/);
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
  // The timeline's time lane: each step's measured ms beside the baseline's, on one scale.
  const lane = await page.$$eval('#tl-cols .tcol', (cols) => cols.map((c) => ({
    ms: Number(c.dataset.ms), fill: c.querySelector('.tms .fill').getBoundingClientRect().height,
    base: c.querySelector('.tms .base').hidden ? -1 : c.querySelector('.tms .base').getBoundingClientRect().height, title: c.title,
  })));
  assert.deepEqual(lane.map((c) => c.ms), runs.mainSteps.map((v) => Number(v.toFixed(1))), 'each column shows its step’s time');
  assert.ok(lane.every((c) => c.fill > 0 && c.base > 0), 'a bar for the step and an outline for the baseline’s');
  assert.match(lane[0].title, /ms measured \(baseline [\d.]+ ms\)/);
  // The wall-clock ratio of the two decodes, beside the FLOPs ratio.
  const timeRatio = await page.evaluate(() => { const m = window.magnets; return m.runs[m.base].trace.ms / m.runs[m.main].trace.ms; });
  assert.equal(await page.textContent('#st-ms-sub'), `${timeRatio.toFixed(2)}× less time than the baseline`);
  assert.ok(timeRatio > 1, `MaGNeTS decodes faster than the baseline here (${timeRatio.toFixed(2)}×)`);
  metrics.compare_webgpu = runs;
  await shot(page, 'desktop-compare');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'phone-compare');
  assert.deepEqual(page.problems, []);
});

test('WebGPU: the URL round trip restores the state and the same images', async () => {
  const ctx = await launch(WEBGPU);
  // A long decode to start with, edited once its first step is out (so the edits replace it).
  const page = await open(ctx, 's=XL12');
  await page.waitForFunction(() => Number(document.getElementById('grid-main').dataset.decoded || 0) >= 1, null, { timeout: GEN_TIMEOUT, polling: 100 });
  await page.fill('#schedule-text', 'S2L1XL2');
  await page.press('#schedule-text', 'Enter');
  await page.fill('#seed', '7');
  await page.press('#seed', 'Enter');
  await page.selectOption('#class', '2');
  await page.uncheck('#cache-on');
  await page.fill('#tau', '3');
  await page.press('#tau', 'Enter');
  await waitDone(page);
  // The edits replaced the first decode while it ran: the worker cancelled it (an error named
  // `cancelled` in the wasm bundle), which ends quietly, without a banner.
  assert.ok(await page.evaluate(() => window.magnets.metrics.replacedRuns) >= 1, 'a running decode was replaced');
  assert.ok(await page.isHidden('#banner'), await page.textContent('#banner'));
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
  assert.match(url, /gpu=1/, 'this test runs WebGPU on a software GPU');
  assert.doesNotMatch(embed, /[#&](gpu|cpu)=/, "a reader's device picks the engine, not the sharer's flags");

  // Embed mode: compact layout.
  const page3 = await ctx.newPage();
  await page3.setViewportSize({ width: 520, height: 920 }); // the snippet's height
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
  assert.equal(await page.textContent('#engine-badge'), 'CPU fallback');
  assert.match(await page.textContent('#notice'), /restarted on the CPU fallback \(the GPU device was lost 3 times\)/);
  // Same seed, other engine: the same tokens up to float near-ties (WGSL and burn logits differ by
  // ~1e-6, which can flip an inverse-CDF draw that lands on a boundary: 1 of 1,024 here).
  const a = JSON.parse(before), b = JSON.parse(await tokens());
  let differ = 0;
  a.forEach((row, i) => row.forEach((v, j) => { differ += v !== b[i][j]; }));
  assert.ok(differ <= 10, `${differ} of 1024 tokens differ after moving to the CPU fallback`);
  assert.deepEqual(page.problems, []);
});

// ---------------------------------------------------------------- the visitor's and the blogger's page
// PNG chunks of a file: [{type, data}], with every CRC checked.
function pngChunks(buf) {
  assert.deepEqual([...buf.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  const out = [];
  for (let o = 8; o < buf.length;) {
    const len = buf.readUInt32BE(o);
    const type = buf.toString('latin1', o + 4, o + 8);
    const data = buf.subarray(o + 8, o + 8 + len);
    assert.equal(buf.readUInt32BE(o + 8 + len), zlib.crc32(buf.subarray(o + 4, o + 8 + len)), `CRC of ${type} at ${o}`);
    out.push({ type, data });
    o += 12 + len;
  }
  assert.equal(out[out.length - 1].type, 'IEND');
  return out;
}
// An APNG's frames as RGB8 pixel rows (8-bit RGB, no interlace; every frame full size).
function apngFrames(buf) {
  const chunks = pngChunks(buf);
  const ihdr = chunks[0];
  assert.equal(ihdr.type, 'IHDR');
  const w = ihdr.data.readUInt32BE(0), h = ihdr.data.readUInt32BE(4);
  assert.deepEqual([ihdr.data[8], ihdr.data[9], ihdr.data[12]], [8, 2, 0], '8-bit RGB, not interlaced');
  const actl = chunks.find((c) => c.type === 'acTL');
  const frames = [];
  let seq = 0, cur = null;
  for (const c of chunks) {
    if (c.type === 'fcTL') {
      assert.equal(c.data.readUInt32BE(0), seq++, 'fcTL sequence number');
      assert.deepEqual([c.data.readUInt32BE(4), c.data.readUInt32BE(8)], [w, h], 'full-size frames');
      cur = { delay: c.data.readUInt16BE(20) / (c.data.readUInt16BE(22) || 100), parts: [] };
      frames.push(cur);
    } else if (c.type === 'IDAT' && cur) cur.parts.push(c.data);
    else if (c.type === 'fdAT') { assert.equal(c.data.readUInt32BE(0), seq++, 'fdAT sequence number'); cur.parts.push(c.data.subarray(4)); }
  }
  const stride = 1 + 3 * w;
  for (const f of frames) {
    const raw = zlib.inflateSync(Buffer.concat(f.parts));
    assert.equal(raw.length, stride * h, 'one filtered scanline per row');
    // Undo the per-row filters (None, Sub, Up; the page writes Up).
    f.rgb = Buffer.alloc(3 * w * h);
    for (let y = 0; y < h; y++) {
      const type = raw[y * stride];
      for (let i = 0; i < 3 * w; i++) {
        const v = raw[y * stride + 1 + i], up = y ? f.rgb[(y - 1) * 3 * w + i] : 0, left = i >= 3 ? f.rgb[y * 3 * w + i - 3] : 0;
        assert.ok(type <= 2, `filter ${type}`);
        f.rgb[y * 3 * w + i] = (v + (type === 1 ? left : type === 2 ? up : 0)) & 0xff;
      }
    }
  }
  return { w, h, numFrames: actl && actl.data.readUInt32BE(0), frames };
}

// Pixels of each grid canvas that differ from its final decoded image, scaled up (nearest).
const overlayPixels = (page, gridId = 'grid-main') => page.evaluate((gid) => {
  const a = window.magnets;
  const run = gid === 'grid-main' ? a.runs[a.main] : a.runs[a.base];
  const imgs = run.images.get(run.steps.length - 1);
  return [...document.getElementById(gid).querySelectorAll('canvas')].map((cv, b) => {
    const got = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    const im = imgs[b], k = cv.width / im.width;
    let differ = 0;
    for (let y = 0; y < cv.height; y++) for (let x = 0; x < cv.width; x++) {
      const s = 4 * (Math.floor(y / k) * im.width + Math.floor(x / k)), d = 4 * (y * cv.width + x);
      if (Math.abs(got[d] - im.data[s]) + Math.abs(got[d + 1] - im.data[s + 1]) + Math.abs(got[d + 2] - im.data[s + 2]) > 6) differ++;
    }
    return differ;
  });
}, gridId);

test('WebGPU: finished images are clean, exports decode, the keyboard reaches and edits everything', async () => {
  const ctx = await launch(WEBGPU);
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: `http://127.0.0.1:${PORT}` });
  const T = 6;
  const page = await open(ctx, `T=${T}&seed=2`);
  // The first seconds: progress in the grid's header, and what the visitor is watching on top.
  await page.waitForFunction(() => /decoding/.test(document.getElementById('main-progress').textContent), null, { timeout: GEN_TIMEOUT, polling: 100 });
  assert.match(await page.textContent('#watch'), new RegExp(`${T} parallel steps`));
  const watch = await page.locator('#watch').boundingBox();
  assert.ok(watch.y + watch.height < 900, 'the paragraph on what is happening is above the fold');
  await waitDone(page);
  await waitImages(page);
  await page.waitForFunction(() => /done in/.test(document.getElementById('main-progress').textContent), null, { timeout: 30000 });

  // At the last step of a finished decode the pictures are clean: every canvas pixel is the
  // decoded image's.
  assert.equal(await page.getAttribute('#grid-main', 'data-overlay'), 'off');
  assert.deepEqual(await overlayPixels(page), Array(16).fill(0));
  await shot(page, 'desktop-finished-clean', { fullPage: false });
  // The toggle and hovering bring the token states back; stepping back shows them too.
  await page.check('#overlay');
  const withStates = await overlayPixels(page);
  assert.ok(withStates.every((n) => n > 0), `token states drawn with the toggle on: ${withStates}`);
  await page.uncheck('#overlay');
  await page.hover('#grid-main canvas >> nth=5');
  assert.equal(await page.getAttribute('#grid-main', 'data-overlay'), 'on', 'hovering the grid shows the token states');
  await page.mouse.move(2, 2);
  assert.equal(await page.getAttribute('#grid-main', 'data-overlay'), 'off');
  await page.click('#prev');
  assert.equal(await page.getAttribute('#grid-main', 'data-overlay'), 'on', `step ${T - 1} of ${T} shows the states`);
  await page.click('#next');
  assert.equal(await page.getAttribute('#grid-main', 'data-overlay'), 'off');

  // Animated PNG: one frame per step plus the finished images, the last one clean.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-anim')]);
  const apng = fs.readFileSync(await dl.path());
  fs.writeFileSync(path.join(artifacts, 'export-decode.png'), apng);
  const anim = apngFrames(apng);
  assert.equal(anim.numFrames, T + 1, 'acTL: T steps + the finished frame');
  assert.equal(anim.frames.length, T + 1, 'fcTL count');
  assert.ok(anim.frames[T].delay > anim.frames[0].delay, 'the finished frame is held longer');
  assert.notDeepEqual(anim.frames[T].rgb, anim.frames[T - 1].rgb, 'the last step (with states) and the finished frame differ');
  // The finished frame's first cell is the first decoded image at 3×.
  const img0 = await page.evaluate(() => { const a = window.magnets, r = a.runs[a.main]; const im = r.images.get(r.steps.length - 1)[0]; return { w: im.width, data: [...im.data] }; });
  const fin = anim.frames[T].rgb, k = 3, x0 = 6, y0 = 6;
  let bad = 0;
  for (let y = 0; y < img0.w * k; y++) for (let x = 0; x < img0.w * k; x++) {
    const s = 4 * (Math.floor(y / k) * img0.w + Math.floor(x / k)), d = 3 * ((y0 + y) * anim.w + x0 + x);
    for (let c = 0; c < 3; c++) bad += Math.abs(fin[d + c] - img0.data[s + c]) > 2;
  }
  assert.equal(bad, 0, 'the exported finished image is the decoded one');
  assert.ok(anim.h > anim.w, 'the timeline strip sits under the grid');
  // The page's own decoder (Chromium) reads it as an image too.
  assert.deepEqual(await page.evaluate(async (b64) => { const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)); const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' })); return [bmp.width, bmp.height]; }, apng.toString('base64')), [anim.w, anim.h]);
  assert.match(await page.textContent('#export-note'), new RegExp(`${T + 1} frames`));

  const [dl2] = await Promise.all([page.waitForEvent('download'), page.click('#export-png')]);
  const png = fs.readFileSync(await dl2.path());
  const chunks = pngChunks(png);
  assert.equal(chunks.filter((c) => c.type === 'acTL').length, 0, 'the final grid is a still PNG');
  assert.equal(chunks[0].data.readUInt32BE(0), anim.w);
  // Copy image: copied (permission granted here), or a message that says what to do instead.
  await page.click('#copy-image');
  await page.waitForFunction(() => /Copied|clipboard|https|refused/.test(document.getElementById('export-note').textContent), null, { timeout: 10000 });
  const copied = await page.textContent('#export-note');
  metrics.copyImage = copied;
  if (/Copied/.test(copied)) {
    const types = await page.evaluate(async () => (await navigator.clipboard.read()).flatMap((i) => i.types));
    assert.ok(types.includes('image/png'), `clipboard holds a PNG: ${types}`);
  } else assert.match(copied, /Download PNG/);

  // Keyboard: Tab reaches every control, each has an accessible name.
  const controls = await page.evaluate(() => {
    const name = (e) => (e.getAttribute('aria-label') || (e.labels && e.labels[0] && e.labels[0].textContent) || e.textContent || e.title || '').trim();
    return [...document.querySelectorAll('button, input, select, textarea, a[href], [role=slider], [role=button]')]
      .filter((e) => e.offsetParent !== null && !e.disabled && e.closest('[hidden]') == null && e.getClientRects().length)
      .map((e, i) => { e.dataset.ctl = String(i); return { i, tag: e.tagName, id: e.id, name: name(e), tabbable: e.tabIndex >= 0 }; });
  });
  for (const c of controls) assert.ok(c.name, `control ${c.tag}#${c.id} has a name`);
  const reached = new Set();
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.focus('body');
  for (let i = 0; i < controls.length * 2 + 20; i++) {
    await page.keyboard.press('Tab');
    const k = await page.evaluate(() => document.activeElement && document.activeElement.dataset.ctl);
    if (k != null) reached.add(Number(k));
  }
  // One tab stop per group of sliders (the timeline's bars) and per chart point set is enough.
  const missed = controls.filter((c) => c.tabbable && !reached.has(c.i));
  assert.deepEqual(missed, [], 'every tabbable control is reached with Tab');
  assert.ok(controls.some((c) => c.tag === 'DIV' && reached.has(c.i)), 'the timeline is reachable');
  // Timeline bars: ↑ ↓ change the focused step's width, → moves to the next bar.
  const before = Number(await page.textContent('#st-gflops'));
  const first = await page.inputValue('#schedule-text');
  await page.focus('.tcol[data-step="1"]');
  await page.keyboard.press('ArrowUp');
  const after = await page.inputValue('#schedule-text');
  assert.notEqual(after, first);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.step), '1', 'focus stays on the edited bar');
  assert.equal(await page.getAttribute('.tcol[data-step="1"]', 'aria-valuenow'), '1');
  assert.ok(Number(await page.textContent('#st-gflops')) > before, 'a wider first step costs more');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.step), '2');
  await page.keyboard.press('ArrowDown');
  assert.match(page.url(), new RegExp(`s=${encodeURIComponent(await page.inputValue('#schedule-text'))}`));

  // Dark theme from the system setting.
  await page.emulateMedia({ colorScheme: 'dark' });
  await waitDone(page);
  await waitImages(page);
  const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  const [r, g, b] = bg.match(/\d+/g).map(Number);
  assert.ok(r + g + b < 120, `dark background (${bg})`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'desktop-dark', { fullPage: false });
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'phone-dark', { fullPage: false });
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

test('WebGPU: the Baseline preset is XL12 without cache; the budget slider picks the eval table’s row', async () => {
  const ctx = await launch(WEBGPU);
  const page = await open(ctx, 'T=6');
  await waitStatus(page, ['generating', 'done'], 60000);
  const table = JSON.parse(fs.readFileSync(path.join(repo, 'models/magnets-emoji.eval.json'), 'utf8'));
  await page.click('button[data-preset="baseline"]');
  assert.equal(await page.inputValue('#schedule-text'), 'XL6');
  await page.fill('#steps', '12');
  await page.press('#steps', 'Enter');
  assert.equal(await page.inputValue('#schedule-text'), 'XL12');
  assert.equal(await page.isChecked('#cache-on'), false, 'the MaskGIT baseline has no KV cache');
  assert.match(page.url(), /c=off/);
  assert.equal(await page.textContent('#st-fid'), 'baseline');
  assert.equal(await page.textContent('#st-ratio'), '1.00×');
  assert.ok(await page.locator('button[data-preset="baseline"]').evaluate((b) => b.classList.contains('active')));
  // The MaGNeTS preset turns the cache back on.
  await page.click('button[data-preset="magnets"]');
  assert.equal(await page.isChecked('#cache-on'), true);
  assert.equal(await page.inputValue('#schedule-text'), 'S3M3L3XL3');

  // Budget: the page's pick is the eval table's lowest FID at or under the budget.
  await page.locator('#budget').scrollIntoViewIfNeeded();
  const expected = (g) => table.rows.filter((r) => r.gflops_per_image <= g * (1 + 1e-9)).sort((a, b) => a.fid - b.fid)[0];
  const seen = new Set();
  for (const pos of [0, 150, 450, 600, 700, 760, 840, 1000]) {
    await page.evaluate((p) => { const s = document.getElementById('budget'); s.value = String(p); s.dispatchEvent(new Event('input')); }, pos);
    const budget = Number(await page.getAttribute('#budget', 'data-budget'));
    const want = expected(budget);
    assert.ok(want, `some row fits ${budget}`);
    assert.equal(await page.inputValue('#schedule-text'), want.schedule, `budget ${budget.toFixed(3)} GFLOPs`);
    assert.equal(await page.isChecked('#cache-on'), want.cache !== 'off');
    assert.equal(await page.getAttribute('#budget-pick', 'data-pick'), `${want.schedule}/${want.cache}`);
    assert.ok(Number(await page.textContent('#st-gflops')) <= budget * 1.0001, 'the pick fits the budget');
    seen.add(want.schedule);
  }
  assert.ok(seen.size >= 4, `the slider walks the front: ${[...seen]}`);
  // Where the current schedule sits: the paper's even split is above the front at its compute.
  await page.click('button[data-preset="magnets"]');
  const pick = await page.textContent('#budget-pick');
  const even = table.rows.find((r) => r.schedule === 'S3M3L3XL3' && r.cache === 'on');
  const frontAt = expected(even.gflops_per_image);
  if (frontAt === even) assert.match(pick, /on the front/);
  else assert.match(pick, new RegExp(`${(even.fid - frontAt.fid).toFixed(1)} FID above the front`));
  assert.equal(await page.locator('#tradeoff-plot path.front').count(), 1);
  await page.locator('#tradeoff').screenshot({ path: path.join(artifacts, 'desktop-budget.png') });
  // The keyboard moves the slider too (it sits at the right end now).
  await page.focus('#budget');
  await page.keyboard.press('Home');
  assert.equal(await page.inputValue('#schedule-text'), expected(Number(await page.getAttribute('#budget', 'data-budget'))).schedule);
  assert.deepEqual(page.problems, []);
  await ctx.close();
});

test('WebGPU: the <iframe> snippet in a 390-px blog post fits, explains itself and waits until seen', async () => {
  const ctx = await launch(WEBGPU, { width: 390, height: 844 });
  const page = await open(ctx, 'T=6&seed=4');
  await waitStatus(page, ['generating', 'done'], 60000);
  const snippet = await page.inputValue('#embed-code');
  assert.doesNotMatch(snippet, /width="\d+"/, 'no fixed pixel width');
  // A plain blog theme: a column with margins and the common `iframe { max-width: 100% }` rule.
  const host = await ctx.newPage();
  host.problems = [];
  host.on('pageerror', (e) => host.problems.push(e.message));
  await host.setContent(`<!doctype html><meta name="viewport" content="width=device-width, initial-scale=1">
    <style>body{margin:0;padding:0 12px;font:17px Georgia,serif} iframe{max-width:100%}</style>
    <h1>A post about MaGNeTS</h1><p>${'Some text before the figure. '.repeat(40)}</p><div style="height:1400px"></div>
    ${snippet}<p>After the figure.</p>`);
  const frameEl = await host.waitForSelector('iframe');
  // Off screen: the embed may load, but it does not decode.
  await host.waitForTimeout(4000);
  const frame0 = await frameEl.contentFrame();
  if (frame0) {
    const st = await frame0.evaluate(() => ({ status: document.body.dataset.status, decoded: document.getElementById('grid-main').dataset.decoded || '0' })).catch(() => null);
    if (st) { assert.notEqual(st.status, 'generating'); assert.notEqual(st.status, 'done'); assert.equal(st.decoded, '0'); }
    metrics.embedOffscreen = st;
  }
  await frameEl.scrollIntoViewIfNeeded();
  const frame = await frameEl.contentFrame();
  await frame.waitForFunction(() => ['done', 'error', 'error-run'].includes(document.body.dataset.status), null, { timeout: GEN_TIMEOUT, polling: 250 });
  assert.equal(await frame.evaluate(() => document.body.dataset.status), 'done', await frame.evaluate(() => document.getElementById('banner').textContent));
  metrics.embedEngine = await frame.evaluate(() => ({ badge: document.getElementById('engine-badge').textContent, notice: document.getElementById('notice').textContent }));
  await frame.waitForFunction(() => document.body.dataset.images === 'done', null, { timeout: GEN_TIMEOUT, polling: 250 });
  assert.equal(await host.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), 0, 'the post does not scroll sideways');
  const box = await frameEl.boundingBox();
  assert.ok(box.width <= 390 - 24 + 0.5, `the embed fits the column (${box.width}px)`);
  const inside = await frame.evaluate(() => {
    const vis = (e) => e && e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden';
    const r = (e) => { const b = e.getBoundingClientRect(); return { x: b.left, y: b.top, r: b.right, b: b.bottom, id: e.id || e.className }; };
    const groups = [
      ['.embed-title', '.embed-open'],
      ['#embed-head', '#grids', '.legend', '.transport', '.timeline-card', '.stats'],
      [...document.querySelectorAll('.transport > *')].filter(vis).map((e, i) => { e.dataset.tr = i; return `[data-tr="${i}"]`; }),
      [...document.querySelectorAll('.stats > .stat')].filter(vis).map((e, i) => { e.dataset.st = i; return `[data-st="${i}"]`; }),
    ].map((g) => g.map((s) => document.querySelector(s)).filter(vis).map(r));
    const overlaps = [];
    for (const g of groups) for (let i = 0; i < g.length; i++) for (let j = i + 1; j < g.length; j++) {
      const a = g[i], b = g[j];
      if (Math.min(a.r, b.r) - Math.max(a.x, b.x) > 0.5 && Math.min(a.b, b.b) - Math.max(a.y, b.y) > 0.5) overlaps.push(`${a.id} / ${b.id}`);
    }
    const all = groups.flat();
    return {
      overlaps, width: innerWidth, scrollW: document.documentElement.scrollWidth, scrollH: document.documentElement.scrollHeight, height: innerHeight,
      outside: all.filter((b) => b.r > innerWidth + 0.5 || b.x < -0.5).map((b) => b.id),
      title: document.querySelector('.embed-title').textContent,
      legend: [...document.querySelectorAll('#timeline-legend span')].filter(vis).map((s) => s.textContent),
    };
  });
  await frameEl.screenshot({ path: path.join(artifacts, 'embed-phone-post.png') });
  metrics.embedPhone = inside;
  assert.deepEqual(inside.overlaps, [], 'nothing overlaps in the embed');
  assert.deepEqual(inside.outside, [], 'nothing sticks out of the embed');
  assert.ok(inside.scrollW <= inside.width, `no sideways scroll inside (${inside.scrollW} > ${inside.width})`);
  assert.ok(inside.scrollH <= inside.height, `the snippet's height holds the whole player (${inside.scrollH} > ${inside.height})`);
  assert.match(inside.title, /MaGNeTS/);
  for (const w of ['S', 'M', 'L', 'XL']) assert.ok(inside.legend.some((t) => t.startsWith(w + ' ')), `legend names ${w}`);
  // The same snippet in a wide column stops at its max-width.
  await host.setViewportSize({ width: 1280, height: 900 });
  await host.waitForTimeout(300);
  assert.ok((await frameEl.boundingBox()).width <= 560.5);
  await frameEl.screenshot({ path: path.join(artifacts, 'embed-desktop-post.png') });
  assert.deepEqual(host.problems, []);
  await ctx.close();
});

test('malformed URL state: a readable message and the defaults', async () => {
  const ctx = await launch(WEBGPU);
  const page = await open(ctx, 's=ZZ99&seed=abc&T=5000&bogus=1&c=maybe&cls=77&%E0%A4%A=1&gs=cosine');
  await waitStatus(page, ['generating', 'done'], 60000);
  const banner = await page.textContent('#banner');
  assert.ok(await page.isVisible('#banner'));
  for (const bit of ['seed', 'T:', 'unknown setting', 'cache', 'class 77', 'ZZ99', 'guidance schedule “cosine”']) assert.ok(banner.includes(bit), `banner mentions ${bit}: ${banner}`);
  assert.equal(await page.inputValue('#schedule-text'), 'S3M3L3XL3');
  assert.equal(await page.inputValue('#seed'), '1');
  // More steps than tokens: a message, then the defaults.
  const page2 = await ctx.newPage();
  page2.problems = [];
  await page2.goto(BASE + '#gpu=1&s=magnets&T=500');
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
    // The failure card's advice follows the error's kind (protocol.js ErrorKind), not its wording.
    assert.equal(await page.evaluate(() => document.body.dataset.failure), 'download-failed');
    assert.match(await page.textContent('#failure-text'), /could not be downloaded/);
    await shot(page, 'missing-weights', { fullPage: false });
    const page2 = await ctx.newPage();
    await page2.goto(BASE + '#gpu=1&w=models/corrupt-test.safetensors');
    await waitStatus(page2, ['error'], 60000);
    const t2 = await page2.textContent('#banner');
    assert.match(t2, /weights file/i);
    assert.equal(await page2.evaluate(() => document.body.dataset.failure), 'bad-weights', 'the Rust error kind reaches the page');
    assert.match(await page2.textContent('#failure-text'), /damaged/);
    await shot(page2, 'corrupt-weights', { fullPage: false });
    const page3 = await ctx.newPage();
    await page3.goto(BASE + '#gpu=1&w=https://example.com/x.safetensors');
    await waitStatus(page3, ['generating', 'done'], 60000);
    assert.match(await page3.textContent('#banner'), /not a relative path/);
  } finally {
    fs.rmSync(corrupt, { force: true });
  }
});

// ---------------------------------------------------------------- Animate (a clip model)
const stagedClipModel = () => JSON.parse(fs.readFileSync(path.join(www, 'models/manifest.json'), 'utf8')).models.find((m) => m.kind === 'clip');
// The main run's clips: their given frames, final codes, given-token states and decoded frames.
const clipRun = (page) => page.evaluate(() => {
  const a = window.magnets, run = a.runs[a.main];
  const n = a.config.grid[0] * a.config.grid[1];
  return {
    context: run.request.context,
    heads: run.trace.tokens.map((t) => t.slice(0, n)),
    givenEveryStep: run.steps.every((s) => s.states.every((st) => st.slice(0, n).every((x) => x === 3) && !st.slice(n).includes(3))),
    images: (run.images.get(run.steps.length - 1) || []).length,
    frames: document.querySelectorAll('#grid-main .clip .frame').length,
    givenFrames: document.querySelectorAll('#grid-main .clip .frame.given').length,
    names: [...document.querySelectorAll('#grid-main .clip .player .tag')].map((t) => t.textContent),
  };
});
// True once every real frame (the given one too) shows decoded pixels: a palette preview paints
// flat 8×8 blocks (at most 64 colours on its canvas), a decoded frame has many more.
const realFramesDecoded = () => [...document.querySelectorAll('#grid-main .strip.real .rframe canvas')].every((cv) => {
  const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
  const colours = new Set();
  for (let i = 0; i < d.length; i += 4) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  return colours.size > 64;
});
const playingFrame = (page) => page.evaluate(() => document.querySelector('#grid-main .clip .frame.playing')?.dataset.frame);

test('Animate (WebGPU, gpu=1): m=anim decodes clips from held-out first frames, the given frame stays, the real clips show, the clips play; ctx= carries a frame', async (t) => {
  const model = stagedClipModel();
  if (!model) { t.skip('no clip model staged'); return; }
  const list = JSON.parse(fs.readFileSync(path.join(www, model.starts), 'utf8'));
  const ctx = await launch(WEBGPU);
  // gpu=1: on a software GPU the page would run clips on the CPU engine (the next test).
  const page = await open(ctx, `m=${model.id}&gpu=1`);
  await page.waitForFunction(() => Number(document.getElementById('grid-main').dataset.decoded) >= 4, null, { timeout: GEN_TIMEOUT, polling: 100 });
  await shot(page, 'animate-webgpu-decoding', { fullPage: false });
  await waitDone(page);
  await waitImages(page);
  assert.ok(await page.evaluate(() => document.body.classList.contains('animate')), 'Animate mode');
  assert.match(await page.textContent('#model-badge'), /8 frames of 8×8 tokens/);
  assert.ok(await page.isHidden('#banner'), 'no error banner: ' + (await page.textContent('#banner')));
  let d = await clipRun(page);
  const clips = d.context.length;
  assert.equal(clips, 2, 'two clips on a software GPU');
  assert.deepEqual(d.names, ['penguin', 'sun with face'], 'the default starts');
  for (let b = 0; b < clips; b++) {
    assert.deepEqual(d.context[b], list.starts.find((s) => s.name === ['penguin', 'sun_with_face'][b]).codes);
    assert.deepEqual(d.heads[b], d.context[b], `clip ${b}: the given frame is unchanged`);
  }
  assert.ok(d.givenEveryStep, 'every step marks the given frame (and only it) as given');
  assert.equal(await page.evaluate(() => window.magnets.bundle), 'webgpu');
  assert.equal(d.frames, clips * 8);
  assert.equal(d.givenFrames, clips);
  // Under each prediction, the real clip (held-out starts), decoded to pixels.
  assert.equal(await page.locator('#grid-main .clip .strip.real .rframe').count(), clips * 8);
  await page.waitForFunction(realFramesDecoded, null, { timeout: 30000, polling: 200 });
  assert.equal(d.images, clips * 8, 'every frame decoded to pixels');
  const g = await gridData(page);
  assert.equal(g.masked, '0');
  assert.equal(g.given, String(clips * 64));
  const m = await page.evaluate(() => ({ ...window.magnets.metrics, steps: window.magnets.runs[window.magnets.main].steps.map((s) => s.ms) }));
  metrics.animateWebgpu = { clips, decodeMs: m.lastDecodeMs, stepMs: m.steps, ms: await page.textContent('#st-ms') };
  // The timeline and compute are the clip's: 513 rows, GFLOPs per clip.
  assert.match(await page.getAttribute('#tl-cols .tcol', 'title'), /of 513 rows/);
  assert.ok(await page.isVisible('text=GFLOPs / clip'));
  // The quality card and chart speak of clips: frame-FID, a budget per clip, the Tuned clip schedule.
  assert.equal(await page.textContent('#budget-unit'), 'clip');
  assert.match(await page.getAttribute('#budget', 'aria-valuetext'), /GFLOPs per clip$/);
  assert.match(await page.getAttribute('#tradeoff-plot', 'aria-label'), /^frame-FID against GFLOPs per clip/);
  assert.equal(await page.getAttribute('button[data-tuned="tuned"]', 'data-preset'), JSON.parse(fs.readFileSync(path.join(repo, 'models/magnets-anim.eval.json'), 'utf8')).tuned.schedule);
  // The picker: every held-out start, the ones shown marked.
  assert.equal(await page.locator('#start-picker .thumb').count(), list.starts.length);
  assert.equal(await page.locator('#start-picker .thumb.on').count(), clips);

  // The finished clips loop; pause stops them.
  assert.ok(await page.evaluate(() => document.getElementById('clip-play').classList.contains('playing')), 'the clips play when done');
  const seen = new Set();
  for (let i = 0; i < 8; i++) { seen.add(await playingFrame(page)); await page.waitForTimeout(90); }
  assert.ok(seen.size >= 3, `the player moves through the frames (${[...seen]})`);
  await shot(page, 'animate-webgpu');
  await page.click('#clip-play');
  const f = await playingFrame(page);
  await page.waitForTimeout(400);
  assert.equal(await playingFrame(page), f, 'paused');

  // Exports: the clips as a looping APNG of 8 frames, their frames as a PNG.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-anim')]);
  const apng = fs.readFileSync(await dl.path());
  fs.writeFileSync(path.join(artifacts, 'animate-export.png'), apng);
  const actl = pngChunks(apng).find((c) => c.type === 'acTL');
  assert.equal(actl.data.readUInt32BE(0), 8, 'one APNG frame per clip frame');

  // A picker click adds that start (the oldest goes: two clips here).
  await page.click('#start-picker .thumb >> nth=5');
  await waitStatus(page, ['generating'], 30000);
  assert.match(await page.evaluate(() => location.hash), /start=0,5/, 'penguin (12) out, 5 in after sun with face (0)');

  // A frame in the link (ctx=): every clip continues it (different futures).
  const given = list.starts[7].codes;
  await page.evaluate((h) => { location.hash = h; }, `m=${model.id}&gpu=1&T=4&ctx=${encodeCodes(given)}`);
  await waitStatus(page, ['generating'], 30000);
  await waitDone(page);
  d = await clipRun(page);
  for (let b = 0; b < clips; b++) assert.deepEqual(d.heads[b], given, `clip ${b} continues the carried frame`);
  assert.match(await page.textContent('#start-now'), /your emoji/);
  assert.equal(await page.locator('#grid-main .strip.real').count(), 0, 'a carried frame has no real clip');
  assert.equal(await page.locator('#start-picker .thumb.carried.on').count(), 1);
  await shot(page, 'animate-webgpu-carried', { fullPage: false });

  // A frame that does not fit (63 codes): said, and the held-out starts decode instead.
  await page.evaluate((h) => { location.hash = h; }, `m=${model.id}&gpu=1&T=4&ctx=${encodeCodes(given.slice(0, 63))}`);
  await page.waitForFunction(() => /given frame/.test(document.getElementById('banner').textContent), null, { timeout: 30000 });
  await waitDone(page);
  d = await clipRun(page);
  assert.deepEqual(d.names, ['penguin', 'sun with face']);
  assert.doesNotMatch(await page.evaluate(() => location.hash), /ctx=/, 'the bad frame left the link');
  assert.deepEqual(page.problems, []);
});

// Without gpu=1 a software GPU runs the CPU engine (the same tokens: the parity test above), ten
// times sooner there.
test('a software GPU runs an image model on the CPU engine and says why', async () => {
  const page = await open(await launch(WEBGPU), 'gpu=0');
  await waitDone(page);
  await waitImages(page);
  assert.equal(await page.evaluate(() => window.magnets.bundle), 'cpu');
  assert.equal(await page.textContent('#engine-badge'), 'CPU engine', 'a choice, not a fallback');
  assert.match(await page.textContent('#notice'), /emulated in software.*CPU engine.*gpu=1/s);
  assert.doesNotMatch(page.url(), /gpu=/, 'the default is not written into the link');
  await shot(page, 'software-gpu-cpu', { fullPage: false });
  assert.deepEqual(page.problems, []);
});

test('Animate on a software GPU: the clips run on the CPU engine, four of them, and the page says why', async (t) => {
  const model = stagedClipModel();
  if (!model) { t.skip('no clip model staged'); return; }
  const page = await open(await launch(WEBGPU), `m=${model.id}&gpu=0`);
  await waitDone(page, GEN_TIMEOUT * 2);
  await waitImages(page);
  assert.equal(await page.evaluate(() => window.magnets.bundle), 'cpu');
  assert.match(await page.textContent('#notice'), /emulated in software.*gpu=1/s);
  const d = await clipRun(page);
  assert.equal(d.context.length, 4);
  const m = await page.evaluate(() => ({ ...window.magnets.metrics, steps: window.magnets.runs[window.magnets.main].steps.map((s) => s.ms) }));
  metrics.animateSoftwareGpuOnCpu = {
    clips: 4, decodeMs: m.lastDecodeMs, stepMs: m.steps,
    firstGridMs: m.firstGridMs, realPixelsMs: m.realPixelsMs, pickerPixelsMs: m.pickerPixelsMs, imagesDoneMs: m.imagesDoneMs,
  };
  // The real clips' frames are decoded to pixels, not left as palette colours, and before the
  // intermediate steps' pictures (12 steps × 32 frames on a CPU engine: the real strips and the
  // picker would otherwise stay palette mosaics for half a minute after "done").
  assert.equal(await page.locator('#grid-main .clip .strip.real .rframe').count(), 4 * 8);
  await page.waitForFunction(realFramesDecoded, null, { timeout: 30000, polling: 200 });
  for (const what of ['realPixelsMs', 'pickerPixelsMs']) {
    assert.ok(m[what] != null && m[what] < m.imagesDoneMs, `${what} ${m[what]} before the last step picture ${m.imagesDoneMs}`);
  }
  await shot(page, 'animate-software-gpu-cpu');
  assert.deepEqual(page.problems, []);
});

test('Animate (CPU fallback): four clips decode on a phone-sized page', async (t) => {
  const model = stagedClipModel();
  if (!model) { t.skip('no clip model staged'); return; }
  const ctx = await launch(NO_WEBGPU, { width: 390, height: 844 });
  const page = await open(ctx, `m=${model.id}`);
  await waitDone(page, GEN_TIMEOUT * 2);
  await waitImages(page);
  const d = await clipRun(page);
  assert.equal(d.context.length, 4, 'four clips on the CPU fallback');
  d.heads.forEach((h, b) => assert.deepEqual(h, d.context[b]));
  assert.equal(d.images, 32);
  const m = await page.evaluate(() => ({ ...window.magnets.metrics, steps: window.magnets.runs[window.magnets.main].steps.map((s) => s.ms) }));
  metrics.animateCpu = { clips: 4, decodeMs: m.lastDecodeMs, stepMs: m.steps };
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling (${overflow} px)`);
  assert.ok(await page.isHidden('#grid-main .strip.real >> nth=0'), 'a phone shows the predictions only');
  await shot(page, 'animate-phone-cpu');
  await shot(page, 'animate-phone-cpu-top', { fullPage: false });
  assert.deepEqual(page.problems, []);
});

test('Animate from an image: the chosen emoji becomes the given frame, and its link reproduces the clips', async (t) => {
  const manifest = JSON.parse(fs.readFileSync(path.join(www, 'models/manifest.json'), 'utf8'));
  const clip = manifest.models.find((m) => m.kind === 'clip');
  const image = clip && manifest.models.find((m) => m.kind === 'image' && m.tokenizer === clip.tokenizer);
  if (!image) { t.skip('no image model shares the clip model’s tokenizer'); return; }
  const page = await open(await launch(NO_WEBGPU), `m=${image.id}`);
  await waitDone(page, GEN_TIMEOUT * 2);
  await page.click('#grid-main .cell >> nth=2');
  assert.match(await page.textContent('#animate-this'), /Animate emoji 3/);
  const chosen = await page.evaluate(() => { const a = window.magnets, r = a.runs[a.main]; return { codes: r.trace.tokens[2], cls: r.request.classes[2] }; });
  await page.click('#animate-this');
  await page.waitForFunction((id) => document.body.dataset.model === id, clip.id, { timeout: 60000 });
  await waitDone(page, GEN_TIMEOUT * 2);
  const hash = await page.evaluate(() => location.hash);
  assert.match(hash, new RegExp(`ctx=${encodeCodes(chosen.codes)}`));
  assert.match(hash, new RegExp(`cls=${chosen.cls}`));
  const d = await clipRun(page);
  d.heads.forEach((h) => assert.deepEqual(h, chosen.codes, 'every clip continues the chosen emoji'));
  const tokens = await page.evaluate(() => window.magnets.runs[window.magnets.main].trace.tokens);
  // Reproduce gives the emoji's codes as the CLI's given frame.
  assert.match(await page.inputValue('#cli-code'), new RegExp(` generate --weights \\S+ --context ${chosen.codes.join(',')} --class ${d.heads.map(() => chosen.cls).join(',')} `));
  // The link alone (a new visitor) decodes the same clips.
  const again = await open(await launch(NO_WEBGPU), hash.slice(1));
  await waitDone(again, GEN_TIMEOUT * 2);
  assert.deepEqual(await again.evaluate(() => window.magnets.runs[window.magnets.main].trace.tokens), tokens);
  assert.equal(await again.locator('#start-picker .thumb.carried.on').count(), 1, 'the picker offers the carried frame');
  await shot(again, 'animate-carried-link', { fullPage: false });
  assert.deepEqual([...page.problems, ...again.problems], []);
});

test('WebGPU disabled: the CPU fallback generates', async () => {
  const ctx = await launch(NO_WEBGPU, { width: 390, height: 844 });
  const page = await open(ctx);
  const gpu = await page.evaluate(async () => !!(navigator.gpu && (await navigator.gpu.requestAdapter())));
  assert.equal(gpu, false, 'WebGPU really is off');
  await waitDone(page, GEN_TIMEOUT * 2);
  assert.match(await page.textContent('#engine-badge'), /CPU fallback/);
  assert.ok(await page.isVisible('#notice'));
  // Worded from what the worker detected (with the blink feature off, its navigator.gpu gives no
  // adapter): one reason, no contradiction, and the CPU path is not called slow.
  const notice = await page.textContent('#notice');
  assert.match(notice, /^This browser supports WebGPU but found no GPU adapter to use, so the demo runs the same model on the CPU/);
  assert.doesNotMatch(notice + (await page.textContent('#engine-badge')), /slow|not available/i);
  const m = await page.evaluate(() => ({ ...window.magnets.metrics, steps: window.magnets.runs[window.magnets.main].steps.map((s) => s.ms) }));
  // A quick first decode of the light model: the notice offers the default one, with the time.
  const offer = page.locator('#notice .notice-action');
  if (m.lastDecodeMs <= FAST_ENOUGH_MS) {
    assert.match(notice, new RegExp(`decoded it in ${(m.lastDecodeMs / 1000).toFixed(1)} s, quick enough for the large model: better pictures in about \\d+ s`));
    assert.equal(await offer.textContent(), 'Use the large model');
  } else {
    assert.equal(await offer.count(), 0, `no offer after a ${m.lastDecodeMs} ms decode`);
  }
  metrics.cpu = { readyMs: m.readyMs, decodeMs: m.lastDecodeMs, stepMs: m.steps };
  // The time lane: the slowest step's bar is the lane's full height, the others in proportion.
  const lane = await page.$$eval('#tl-cols .tcol', (cols) => cols.map((c) => [Number(c.dataset.ms), c.querySelector('.tms .fill').getBoundingClientRect().height, c.querySelector('.tms .base').hidden]));
  const tallest = Math.max(...lane.map(([, h]) => h));
  assert.ok(tallest > 10, 'the lane has bars');
  for (const [ms, h, noBase] of lane) {
    assert.ok(Math.abs(h / tallest - ms / Math.max(...m.steps)) < 0.1, `bar ${h}px for ${ms} ms`);
    assert.ok(noBase, 'no baseline outline outside compare mode');
  }
  const g = await gridData(page);
  assert.equal(g.masked, '0');
  await shot(page, 'phone-cpu-fallback');
  if (await offer.count()) {
    // Taking the offer loads and decodes the default model, and the notice stops offering it.
    await offer.click();
    await page.waitForFunction(() => document.body.dataset.model === 'd256', null, { timeout: 60000 });
    await waitDone(page, GEN_TIMEOUT * 2);
    assert.match(await page.evaluate(() => location.hash), /m=d256/);
    assert.equal(await page.locator('#notice .notice-action').count(), 0);
  }
  assert.deepEqual(page.problems, []);
});

// axe-core's rules (WCAG 2.x A/AA and best practices) on the finished page, in the states a
// visitor meets: light and dark, desktop and phone, Animate, an embed. The CSP forbids injected
// scripts, so axe is evaluated through the debugger as a test's own code is.
const AXE = fs.readFileSync(path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
test('accessibility: no axe-core violations in light and dark, desktop and phone, Animate and embed', async () => {
  const ctx = await launch(NO_WEBGPU);
  const found = [];
  for (const [name, hash, colorScheme, viewport] of [
    ['desktop', '', 'light', { width: 1280, height: 900 }],
    ['dark', 'cmp=1', 'dark', { width: 1280, height: 900 }],
    ['phone', '', 'light', { width: 390, height: 844 }],
    ['animate', 'm=anim', 'light', { width: 1280, height: 900 }],
    ['embed', 'embed=1', 'light', { width: 560, height: 920 }],
  ]) {
    const page = await open(ctx, hash);
    await page.emulateMedia({ colorScheme });
    await page.setViewportSize(viewport);
    await waitDone(page, GEN_TIMEOUT * 2);
    await waitImages(page);
    await page.evaluate(AXE);
    const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
      .map((v) => `${v.id} (${v.impact}): ${v.help}; ${v.nodes.length} element(s), e.g. ${v.nodes[0].target.join(' ')}: ${v.nodes[0].failureSummary.split('\n').slice(1, 2).join(' ').trim()}`));
    found.push(...violations.map((v) => `${name}: ${v}`));
    assert.deepEqual(page.problems, []);
    await page.close(); // the next state opens a fresh page, not a hash change of this one
  }
  await ctx.close();
  assert.deepEqual(found, []);
});


// Decodes `hash` in the page, downloads its trace, runs the Reproduce box's generate command
// natively and returns both traces.
async function reproduceNatively(ctx, hash) {
  const page = await open(ctx, hash);
  await waitDone(page, GEN_TIMEOUT * 2);
  const box = await page.inputValue('#cli-code');
  const command = box.split('\n').find((l) => l.includes(' generate '));
  assert.ok(command, `no generate command in the box:\n${box}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-trace')]);
  const pageTrace = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
  assert.deepEqual(page.problems, []);
  await page.close();
  const cliTrace = runGenerate(command); // the native binary (scripts/test-browser.sh builds it)
  return { box, command, download: download.suggestedFilename(), pageTrace, cliTrace };
}

// The same request and plan, step for step, and the same tokens up to float near-ties (the
// wasm and native matrix kernels sum in other orders; reproduce.test.mjs measures how rare a
// differing token is): at most 2%, where a wrong flag or seed changes most of them.
function assertSameDecode(pageTrace, cliTrace) {
  assert.deepEqual(pageTrace.sampling, cliTrace.sampling);
  assert.deepEqual([pageTrace.schedule, pageTrace.cache, pageTrace.classes], [cliTrace.schedule, cliTrace.cache, cliTrace.classes]);
  assert.equal(pageTrace.steps.length, cliTrace.steps.length);
  const plan = (s) => [s.step, s.width, s.refresh, s.rows, s.masked_before, s.masked_after, s.flops];
  assert.deepEqual(pageTrace.steps.map(plan), cliTrace.steps.map(plan), 'the same plan, step for step');
  assert.deepEqual(pageTrace.steps.map((s) => s.tokens.length), cliTrace.steps.map((s) => s.tokens.length), 'every step has its grids');
  let differ = 0, total = 0;
  pageTrace.tokens.forEach((row, i) => row.forEach((v, j) => { differ += v !== cliTrace.tokens[i][j]; total++; }));
  assert.ok(differ <= 0.02 * total, `${differ} of ${total} final tokens differ between the page (wasm) and the CLI (native)`);
  return differ;
}

test('Reproduce: the page’s command decodes the page’s plan and tokens natively (images and clips), and its trace is the CLI’s trace.json', async () => {
  assert.ok(fs.existsSync(nativeBinary()), `${nativeBinary()} is missing: cargo build --release (or set MAGNETS_BIN)`);
  const ctx = await launch(NO_WEBGPU);
  // Guidance ramped, a cache refresh every 4 steps: every request field reaches the command.
  const image = await reproduceNatively(ctx, 'seed=5&c=on:4&g=1&gs=linear');
  assert.match(image.box, / eval --weights models\/magnets-emoji\.safetensors --schedule S3M3L3XL3 --cache on:4 .*--guidance 1 --guidance-schedule linear/);
  assert.equal(image.download, 'magnets-S3M3L3XL3-seed5.trace.json');
  assert.equal(image.pageTrace.page.model, 'small');
  assert.equal(image.pageTrace.page.weights, 'models/magnets-emoji.int8.safetensors');
  const imageDiffer = assertSameDecode(image.pageTrace, image.cliTrace);
  // Two held-out clips continued by the light clip model.
  const clips = await reproduceNatively(ctx, 'm=anim&start=3,12&s=M2L7XL3&seed=2');
  assert.match(clips.command, / --clips-tokens models\/anim\/anim_tokens\.safetensors --start 3,12 /);
  assert.match(clips.box, / eval-clips --weights models\/magnets-anim\.safetensors --schedule M2L7XL3 /);
  const clipDiffer = assertSameDecode(clips.pageTrace, clips.cliTrace);
  await ctx.close();
  metrics.reproduce = { command: image.command, cliMs: image.cliTrace.ms, pageMs: image.pageTrace.ms, differingTokens: [imageDiffer, clipDiffer] };
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
  await page.evaluate(() => { location.hash = '#constructor=1&valueOf=2&seed=77&gpu=1'; });
  await page.waitForFunction(() => document.getElementById('seed').value === '77', null, { timeout: 60000 });
  assert.match(await page.textContent('#banner'), /unknown setting “valueOf”/);
  await waitStatus(page, ['generating', 'done'], 60000);
  await shot(page, 'hostile-hash', { fullPage: false });
  assert.deepEqual(page.problems, []);
});
