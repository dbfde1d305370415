// Exports for posts that cannot embed an iframe: the decode as an animated PNG (one frame per
// step, then the finished images, with the timeline strip under the grid), the finished grid as
// a PNG, and a copy of that PNG to the clipboard. In Animate mode: the finished clips as a
// looping APNG, and their frames as a PNG strip per clip.
//
// The APNG container is written here (signature, chunks, CRC-32: a few dozen lines); the pixels
// are compressed by the browser's own zlib (CompressionStream 'deflate'), so the export adds no
// encoder to the wasm bundle.
import { paintCell } from './cells.js';
import { frameView, FPS } from './animate.js';
import { frameCount } from './protocol.js';

const CELL = 96;      // 32-px images at 3×, nearest-neighbour
const GAP = 6;
const STRIP = 58;     // timeline strip under the grid
const FINAL_DELAY_MS = 2500;

// ---------------------------------------------------------------- frames
// `d` = {config, palette, run, schedule, widthColours[], cols}: run.steps (StepTraces),
// run.images (Map step index → ImageData[]), the width colour of each width index.
function frameSize(d, cols = 4) {
  const n = d.run.steps[0].states.length;
  const rows = Math.ceil(n / cols);
  const w = GAP + cols * (CELL + GAP);
  return { w, h: GAP + rows * (CELL + GAP) + STRIP, cols, rows, n };
}

// Paints the grid at step index `idx` (0-based; overlay: token states on) and the strip.
function paintFrame(ctx, d, idx, overlay, withStrip = true) {
  const { w, cols, rows, n } = frameSize(d);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  const step = d.run.steps[idx];
  const images = d.run.images.get(idx);
  for (let b = 0; b < n; b++) {
    const x = GAP + (b % cols) * (CELL + GAP), y = GAP + Math.floor(b / cols) * (CELL + GAP);
    paintCell(ctx, x, y, CELL, {
      grid: d.config.grid, codebook: d.config.codebook, palette: d.palette,
      step, image: images ? images[b] : null, b, overlay,
    });
  }
  if (!withStrip) return;
  // Strip: one bar per step, height and colour by sub-model; the shown step outlined.
  const T = d.run.steps.length, y0 = GAP + rows * (CELL + GAP), nW = d.config.widths.length;
  const lane = { x: GAP, y: y0 + 16, w: w - 2 * GAP, h: STRIP - 24 };
  const bw = lane.w / T;
  ctx.font = '600 11px system-ui, sans-serif';
  ctx.textBaseline = 'alphabetic';
  ctx.fillStyle = '#1d2433';
  ctx.textAlign = 'left';
  const done = overlay ? `step ${idx + 1} / ${T}` : 'finished';
  ctx.fillText(`MaGNeTS ${d.schedule} · ${done}`, GAP, y0 + 11);
  ctx.textAlign = 'right';
  ctx.fillStyle = '#5f6678';
  ctx.fillText(d.config.width_names.join(' < '), w - GAP, y0 + 11);
  d.run.steps.forEach((s, i) => {
    const h = ((s.width + 1) / nW) * lane.h;
    ctx.globalAlpha = overlay && i > idx ? 0.3 : 1;
    ctx.fillStyle = d.widthColours[s.width] || '#495057';
    ctx.fillRect(lane.x + i * bw + 1, lane.y + lane.h - h, bw - 2, h);
    ctx.globalAlpha = 1;
    if (overlay && i === idx) {
      ctx.strokeStyle = '#1d2433';
      ctx.lineWidth = 2;
      ctx.strokeRect(lane.x + i * bw + 1, lane.y + lane.h - h - 1, bw - 2, h + 1);
    }
  });
}

function canvasFor(w, h) {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  return c;
}

// ---------------------------------------------------------------- APNG
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}
const u32s = (...xs) => { const b = new Uint8Array(4 * xs.length); const v = new DataView(b.buffer); xs.forEach((x, i) => v.setUint32(4 * i, x)); return b; };

async function zlib(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// RGBA canvas pixels → PNG scanlines, 8-bit RGB, filter "Up" (the 3× upscaled rows repeat, so
// most filtered rows are zeros and compress to almost nothing).
function scanlines(rgba, w, h) {
  const stride = 1 + 3 * w;
  const out = new Uint8Array(stride * h);
  const row = new Uint8Array(3 * w), prev = new Uint8Array(3 * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = 4 * (y * w + x);
      row[3 * x] = rgba[s]; row[3 * x + 1] = rgba[s + 1]; row[3 * x + 2] = rgba[s + 2];
    }
    const o = y * stride;
    out[o] = 2;
    for (let i = 0; i < row.length; i++) out[o + 1 + i] = (row[i] - prev[i]) & 0xff;
    prev.set(row);
  }
  return out;
}

// frames: [{rgba: Uint8ClampedArray, delayMs}] of one size → an APNG Blob (loops forever).
export async function encodeApng(frames, w, h) {
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10])];
  parts.push(chunk('IHDR', new Uint8Array([...u32s(w, h), 8, 2, 0, 0, 0])));
  parts.push(chunk('acTL', u32s(frames.length, 0)));
  let seq = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    const fctl = new Uint8Array(26);
    const v = new DataView(fctl.buffer);
    v.setUint32(0, seq++); v.setUint32(4, w); v.setUint32(8, h); v.setUint32(12, 0); v.setUint32(16, 0);
    v.setUint16(20, Math.round(f.delayMs)); v.setUint16(22, 1000);
    fctl[24] = 0; fctl[25] = 0; // dispose none, blend source: every frame is whole
    parts.push(chunk('fcTL', fctl));
    const data = await zlib(scanlines(f.rgba, w, h));
    if (i === 0) parts.push(chunk('IDAT', data));
    else { const fd = new Uint8Array(4 + data.length); fd.set(u32s(seq++)); fd.set(data, 4); parts.push(chunk('fdAT', fd)); }
  }
  parts.push(chunk('IEND', new Uint8Array(0)));
  return new Blob(parts, { type: 'image/apng' });
}

// The whole decode: frames 1…T with the token states, then the finished images (held longer).
export async function decodeAnimation(d, msPerStep = 700) {
  const { w, h } = frameSize(d);
  const c = canvasFor(w, h), ctx = c.getContext('2d');
  const frames = [];
  const T = d.run.steps.length;
  for (let i = 0; i <= T; i++) {
    const final = i === T;
    paintFrame(ctx, d, final ? T - 1 : i, !final);
    frames.push({ rgba: ctx.getImageData(0, 0, w, h).data, delayMs: final ? FINAL_DELAY_MS : msPerStep });
  }
  return encodeApng(frames, w, h);
}

// ---------------------------------------------------------------- clips (Animate mode)
// d.clips: the clips' starts (animate.js); the run's last step holds the finished frames.
const clipSize = (d) => ({ n: d.clips.length, F: frameCount(d.config), G: d.config.context_frames || 0 });
function paintClipFrame(ctx, d, b, f, x, y, size) {
  const v = frameView(d.run, d.run.steps.length - 1, b, f, d.config, d.clips[b]);
  paintCell(ctx, x, y, size, { grid: d.config.grid, codebook: d.config.codebook, palette: d.palette, step: v.step, image: v.image, b: 0, overlay: false });
}
// The finished clips side by side, looping (one APNG frame per clip frame), captioned.
export async function clipAnimation(d) {
  const { n, F } = clipSize(d);
  const w = GAP + n * (CELL + GAP), h = GAP + CELL + 22;
  const c = canvasFor(w, h), ctx = c.getContext('2d');
  const frames = [];
  for (let f = 0; f < F; f++) {
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, w, h);
    for (let b = 0; b < n; b++) paintClipFrame(ctx, d, b, f, GAP + b * (CELL + GAP), GAP, CELL);
    ctx.font = '600 11px system-ui, sans-serif';
    ctx.fillStyle = '#1d2433';
    ctx.textAlign = 'left';
    ctx.fillText(`MaGNeTS ${d.schedule} · frame ${f}${f === 0 ? ' (given)' : ''}`, GAP, GAP + CELL + 15);
    frames.push({ rgba: ctx.getImageData(0, 0, w, h).data, delayMs: 1000 / FPS });
  }
  return encodeApng(frames, w, h);
}
// Every clip as a row of its frames, the given ones framed in teal.
function clipStripCanvas(d) {
  const { n, F, G } = clipSize(d);
  const s = 64;
  const c = canvasFor(GAP + F * (s + GAP), GAP + n * (s + GAP)), ctx = c.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, c.width, c.height);
  for (let b = 0; b < n; b++) {
    for (let f = 0; f < F; f++) {
      const x = GAP + f * (s + GAP), y = GAP + b * (s + GAP);
      paintClipFrame(ctx, d, b, f, x, y, s);
      if (f < G) { ctx.strokeStyle = '#0ca678'; ctx.lineWidth = 3; ctx.strokeRect(x + 1.5, y + 1.5, s - 3, s - 3); }
    }
  }
  return c;
}

// The finished images alone (clips: their frames), as a PNG (the browser's encoder).
export function finalGridPng(d) {
  if (d.clips) {
    const c = clipStripCanvas(d);
    return new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error('the browser could not encode the PNG'))), 'image/png'));
  }
  const { w, h } = frameSize(d);
  const c = canvasFor(w, h - STRIP + GAP);
  paintFrame(c.getContext('2d'), d, d.run.steps.length - 1, false, false);
  return new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error('the browser could not encode the PNG'))), 'image/png'));
}

export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Copies a PNG blob; resolves to a sentence for the page either way.
async function copyPng(blobPromise) {
  if (!window.isSecureContext) return 'Copying images needs the page on https (or localhost): use “Download PNG”.';
  if (!navigator.clipboard || !navigator.clipboard.write || typeof ClipboardItem === 'undefined') {
    return 'This browser cannot copy images to the clipboard: use “Download PNG”.';
  }
  try {
    // The promise goes into the item directly, so Safari keeps the click's permission.
    await navigator.clipboard.write([new ClipboardItem({ 'image/png': blobPromise })]);
    return 'Copied the image ✓';
  } catch (e) {
    return `The browser refused the copy (${e && e.name === 'NotAllowedError' ? 'no clipboard permission' : (e && e.message) || e}): use “Download PNG”.`;
  }
}

// The three buttons: `data()` is the frames' input (null while the pictures are not ready),
// `say` shows a sentence, `fileName(suffix)` names the downloads.
export function wireExports({ anim, png, copy, say, data, fileName, msPerStep }) {
  anim.onclick = async () => {
    const d = data();
    if (!d) return;
    say('encoding the animation…');
    try {
      const blob = d.clips ? await clipAnimation(d) : await decodeAnimation(d, msPerStep());
      download(blob, fileName('.png'));
      const frames = d.clips ? `${frameCount(d.config)} frames of ${d.clips.length} clips, looping` : `${d.run.steps.length + 1} frames`;
      say(`animated PNG: ${frames}, ${(blob.size / 1024).toFixed(0)} KB`);
    } catch (e) { say('could not encode the animation: ' + ((e && e.message) || e)); }
  };
  png.onclick = async () => {
    const d = data();
    if (!d) return;
    try {
      const blob = await finalGridPng(d);
      download(blob, fileName('-final.png'));
      say(`PNG of the finished ${d.clips ? 'clips (a row of frames each)' : 'grid'}, ${(blob.size / 1024).toFixed(0)} KB`);
    } catch (e) { say(String((e && e.message) || e)); }
  };
  copy.onclick = async () => {
    const d = data();
    if (d) say(await copyPng(finalGridPng(d)));
  };
}
