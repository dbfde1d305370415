// scripts/serve.mjs under hostile requests: malformed escapes, NUL, other methods, unparsable
// request lines, traversal, random paths; plus its caching validators (ETag / Last-Modified → 304).
// Pure node (no browser), on a loopback port the OS picks; every request has a timeout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createServer } from '../../scripts/serve.mjs';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'magnets-serve-'));
fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>t</title>');
fs.writeFileSync(path.join(root, 'model.safetensors'), Buffer.alloc(4096, 7));
let server;
let port;
let requests = 0;

before(async () => {
  server = createServer({ root, base: '/demo/', csp: true, quiet: true });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
});
after(() => {
  console.log(`serve.mjs: ${requests} hostile or revalidating requests, the server answered every one`);
  return new Promise((resolve) => server.close(resolve));
});

// One raw HTTP/1.1 exchange: returns {status, headers, body} (headers lower-cased).
function raw(text, timeoutMs = 3000) {
  requests++;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer to ${JSON.stringify(text.slice(0, 60))}`)); }, timeoutMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (e) => { clearTimeout(timer); reject(e); });
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString('latin1');
      const [head, ...rest] = all.split('\r\n\r\n');
      const lines = head.split('\r\n');
      const status = Number((lines[0].match(/^HTTP\/1\.[01] (\d{3})/) || [])[1]);
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status, headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(text);
  });
}
const request = (method, target, extra = '') => raw(`${method} ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n${extra}\r\n`);

function assertSecure(r, what) {
  assert.equal(r.headers['x-content-type-options'], 'nosniff', `${what}: nosniff on ${r.status}`);
  assert.match(r.headers['content-security-policy'] || '', /wasm-unsafe-eval/, `${what}: CSP on ${r.status}`);
}

async function assertAlive() {
  const r = await request('GET', '/demo/');
  assert.equal(r.status, 200, 'the server still serves the page');
}

test('malformed %-escapes and NUL are 400, and the server lives on', async () => {
  for (const target of ['/%', '/demo/%', '/demo/%E0%A4%A', '/demo/%zz', '/demo/a%00b', '/%00', '/demo/%C0%AF', '/demo/index.html%']) {
    const r = await request('GET', target);
    assert.equal(r.status, 400, target);
    assertSecure(r, target);
  }
  await assertAlive();
});

test('only GET and HEAD: other methods are 405 with Allow', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND']) {
    const r = await request(method, '/demo/index.html', 'content-length: 0\r\n');
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.allow, 'GET, HEAD', method);
    assertSecure(r, method);
  }
  const head = await request('HEAD', '/demo/index.html');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  await assertAlive();
});

test('security headers on every status, traversal never escapes the root', async () => {
  for (const [target, want] of [
    ['/demo/', [200]], ['/demo/missing.js', [404]], ['/elsewhere', [404]], ['/demo', [301]],
    ['/demo/../../etc/passwd', [403, 404]], ['/demo/%2e%2e/%2e%2e/etc/passwd', [403, 404]],
    ['/demo/..%2f..%2fetc%2fpasswd', [403, 404]], ['/demo/..%5c..%5cetc%5cpasswd', [403, 404]],
  ]) {
    const r = await request('GET', target);
    assert.ok(want.includes(r.status), `${target}: ${r.status}`);
    assertSecure(r, target);
    assert.doesNotMatch(r.body, /root:/, target);
  }
});

test('unparsable requests get 400 from node, not a crash', async () => {
  for (const text of ['GARBAGE\r\n\r\n', 'GET /demo/ HTTP/9.9\r\n\r\n', 'GET /demo/ HTTP/1.1\r\nbad header line\r\n\r\n', '\0\0\0\r\n\r\n']) {
    const r = await raw(text);
    assert.equal(r.status, 400, JSON.stringify(text));
  }
  await assertAlive();
});

test('ETag and Last-Modified revalidate with 304', async () => {
  const first = await request('GET', '/demo/model.safetensors');
  assert.equal(first.status, 200);
  assert.equal(first.body.length, 4096);
  const { etag } = first.headers;
  const lastModified = first.headers['last-modified'];
  assert.ok(etag && lastModified, 'validators present');
  const same = await request('GET', '/demo/model.safetensors', `if-none-match: ${etag}\r\n`);
  assert.equal(same.status, 304);
  assert.equal(same.body, '');
  assert.equal(same.headers.etag, etag);
  assertSecure(same, '304');
  assert.equal((await request('GET', '/demo/model.safetensors', `if-none-match: "other", ${etag}\r\n`)).status, 304);
  assert.equal((await request('GET', '/demo/model.safetensors', 'if-none-match: "other"\r\n')).status, 200);
  assert.equal((await request('GET', '/demo/model.safetensors', `if-modified-since: ${lastModified}\r\n`)).status, 304);
  assert.equal((await request('GET', '/demo/model.safetensors', 'if-modified-since: Thu, 01 Jan 1970 00:00:00 GMT\r\n')).status, 200);
  assert.equal((await request('GET', '/demo/model.safetensors', 'if-modified-since: not a date\r\n')).status, 200);
  // If-None-Match wins over If-Modified-Since (RFC 9110).
  assert.equal((await request('GET', '/demo/model.safetensors', `if-none-match: "other"\r\nif-modified-since: ${lastModified}\r\n`)).status, 200);
});

test('seeded random paths: always a 2xx/3xx/4xx answer with the headers, never a crash', async () => {
  let seed = 12345;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  const pieces = ['%', '%0', '%00', '%2e', '%2f', '%5c', '%E0%A4', '%ff', '..', '/', '\\', 'demo', 'index.html', 'a', '~', '%25', '?', '#', ';', '%C0%AE'];
  const counts = {};
  for (let i = 0; i < 300; i++) {
    let target = rand(2) ? '/demo/' : '/';
    const n = 1 + rand(6);
    for (let j = 0; j < n; j++) target += pieces[rand(pieces.length)];
    const r = await request('GET', target);
    assert.ok([200, 301, 400, 403, 404].includes(r.status), `${target}: ${r.status}`);
    assertSecure(r, target);
    counts[r.status] = (counts[r.status] || 0) + 1;
  }
  console.log(`serve.mjs: 300 random paths → ${JSON.stringify(counts)}`);
  await assertAlive();
});
