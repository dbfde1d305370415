#!/usr/bin/env node
// Minimal static server for the page (no dependencies): correct MIME types (application/wasm),
// optional strict Content-Security-Policy, optional sub-path mount. GET and HEAD only; every
// response carries the security headers; files are revalidated with ETag / Last-Modified (304),
// so a reload does not download the weights again. A malformed request gets a 4xx, never a crash.
//   node scripts/serve.mjs [--root www] [--port 8080] [--host 127.0.0.1] [--base /magnets/] [--csp]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The strict policy the page must work under: only 'wasm-unsafe-eval' added to 'self'.
export const STRICT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " +
  "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'self'; form-action 'none'";

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.safetensors': 'application/octet-stream', '.txt': 'text/plain; charset=utf-8',
};

// A weak validator from size and modification time (what a static file server can know cheaply).
const etagOf = (st) => `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;

// Has the client's cached copy (If-None-Match, else If-Modified-Since) still the current version?
function notModified(req, st, etag) {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    return inm.split(',').map((t) => t.trim()).some((t) => t === '*' || t.replace(/^W\//, '') === etag.replace(/^W\//, ''));
  }
  const ims = Date.parse(req.headers['if-modified-since'] || '');
  return Number.isFinite(ims) && Math.floor(st.mtimeMs / 1000) * 1000 <= ims;
}

export function createServer({ root, base = '/', csp = false, quiet = true }) {
  root = path.resolve(root);
  if (!base.startsWith('/')) base = '/' + base;
  if (!base.endsWith('/')) base += '/';
  const security = {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...(csp ? { 'content-security-policy': STRICT_CSP } : {}),
  };
  const send = (res, status, extra = {}, body = '') => {
    res.writeHead(status, { ...security, 'content-type': 'text/plain; charset=utf-8', ...extra });
    res.end(body);
  };
  const server = http.createServer((req, res) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, { allow: 'GET, HEAD' }, 'method not allowed');
        return;
      }
      let p;
      try {
        p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      } catch (_) {
        send(res, 400, {}, 'bad request: malformed URL');
        return;
      }
      if (p.includes('\0')) { send(res, 400, {}, 'bad request: NUL in the path'); return; }
      if (base !== '/' && p === base.slice(0, -1)) { send(res, 301, { location: base }); return; }
      if (!p.startsWith(base)) { send(res, 404, {}, 'not found'); return; }
      p = p.slice(base.length);
      if (p === '' || p.endsWith('/')) p += 'index.html';
      const file = path.join(root, p);
      if (!file.startsWith(root + path.sep)) { send(res, 403, {}, 'forbidden'); return; }
      fs.stat(file, (err, st) => {
        try {
          if (err || !st.isFile()) {
            send(res, 404, {}, 'not found');
            if (!quiet) console.log(`404 ${req.url}`);
            return;
          }
          const etag = etagOf(st);
          const validators = { etag, 'last-modified': new Date(st.mtimeMs).toUTCString(), 'cache-control': 'no-cache' };
          if (notModified(req, st, etag)) {
            res.writeHead(304, { ...security, ...validators });
            res.end();
            return;
          }
          res.writeHead(200, {
            ...security,
            ...validators,
            'content-type': MIME[path.extname(file)] || 'application/octet-stream',
            'content-length': st.size,
          });
          if (req.method === 'HEAD') { res.end(); return; }
          const stream = fs.createReadStream(file);
          // The file may vanish between stat and read: end this response, keep the server.
          stream.on('error', () => res.destroy());
          stream.pipe(res);
        } catch (e) {
          if (!res.headersSent) send(res, 500, {}, 'internal error');
          else res.destroy();
        }
      });
    } catch (e) {
      if (!res.headersSent) send(res, 400, {}, 'bad request');
      else res.destroy();
    }
  });
  // Requests node cannot even parse (bad request line or headers).
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
  const root = opt('--root', 'www');
  const port = Number(opt('--port', '8080'));
  const host = opt('--host', '127.0.0.1');
  const base = opt('--base', '/');
  const csp = args.includes('--csp');
  const server = createServer({ root, base, csp, quiet: args.includes('--quiet') });
  server.listen(port, host, () => {
    console.log(`serving ${path.resolve(root)} on http://${host === '0.0.0.0' ? 'localhost' : host}:${port}${base}${csp ? ' (strict CSP)' : ''}`);
  });
}
