import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { CHROMIUM, COMMON, NO_WEBGPU } from './chromium.mjs';
const server = spawn(process.execPath, ['../../scripts/serve.mjs', '--root', '../../www', '--port', '8797', '--quiet', '--csp'], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((r) => server.stdout.once('data', r));
const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...COMMON, ...NO_WEBGPU] });
const cases = JSON.parse(process.argv[2]);
for (const [name, hash, vp] of cases) {
  const page = await browser.newPage({ viewport: vp || { width: 1280, height: 900 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error' || /Refused/.test(m.text())) problems.push('console: ' + m.text()); });
  const t0 = Date.now();
  await page.goto('http://127.0.0.1:8797/#' + hash);
  let st;
  try {
    await page.waitForFunction(() => ['done', 'error', 'error-run'].includes(document.body.dataset.status), null, { timeout: 240000 });
    await page.waitForFunction(() => document.body.dataset.images === 'done' || document.body.dataset.status !== 'done', null, { timeout: 120000 });
    st = await page.evaluate(() => document.body.dataset.status);
  } catch (e) { st = 'TIMEOUT'; }
  const banner = await page.evaluate(() => { const b = document.getElementById('banner'); return b.hidden ? '' : b.textContent; });
  const notice = await page.evaluate(() => { const b = document.getElementById('notice'); return b.hidden ? '' : b.textContent; });
  const ovf = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  await page.screenshot({ path: `/tmp/axe/bash-${name}.png`, fullPage: false });
  console.log(JSON.stringify({ name, st, s: ((Date.now() - t0) / 1000).toFixed(1), banner: banner.slice(0, 200), notice: notice.slice(0, 200), overflow: ovf, problems, hash: await page.evaluate(() => location.hash) }));
  await page.close();
}
await browser.close(); server.kill();
