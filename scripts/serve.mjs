#!/usr/bin/env node
// Minimal static server for the page (no dependencies): correct MIME types (application/wasm),
// optional strict Content-Security-Policy, optional sub-path mount.
//   node scripts/serve.mjs [--root www] [--port 8080] [--host 127.0.0.1] [--base /magnets/] [--csp]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const root = path.resolve(opt('--root', 'www'));
const port = Number(opt('--port', '8080'));
const host = opt('--host', '127.0.0.1');
let base = opt('--base', '/');
if (!base.startsWith('/')) base = '/' + base;
if (!base.endsWith('/')) base += '/';
const csp = args.includes('--csp');
const quiet = args.includes('--quiet');

// The strict policy the page must work under: only 'wasm-unsafe-eval' added to 'self'.
export const STRICT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " +
  "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'self'; form-action 'none'";

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.safetensors': 'application/octet-stream', '.txt': 'text/plain; charset=utf-8',
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let p = decodeURIComponent(url.pathname);
  if (base !== '/' && p === base.slice(0, -1)) { res.writeHead(301, { location: base }); res.end(); return; }
  if (!p.startsWith(base)) { res.writeHead(404); res.end('not found'); return; }
  p = p.slice(base.length);
  if (p === '' || p.endsWith('/')) p += 'index.html';
  const file = path.join(root, p);
  if (!file.startsWith(root + path.sep)) { res.writeHead(403); res.end('forbidden'); return; }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      if (!quiet) console.log(`404 ${req.url}`);
      return;
    }
    const headers = {
      'content-type': MIME[path.extname(file)] || 'application/octet-stream',
      'content-length': st.size,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    };
    if (csp) headers['content-security-policy'] = STRICT_CSP;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') { res.end(); return; }
    fs.createReadStream(file).pipe(res);
  });
});
server.listen(port, host, () => {
  console.log(`serving ${root} on http://${host === '0.0.0.0' ? 'localhost' : host}:${port}${base}${csp ? ' (strict CSP)' : ''}`);
});
