// Paints one image of the grid at one decode step: its decoded pixels (or, until those exist, the
// tokenizer's preview colour per predicted code) under the token states. The live grid and the
// exported animation both paint through here, so they show the same thing.

import { TokenState } from './protocol.js';

let scratch = null;

// Preview colour of a code: the tokenizer's palette (`magnets web-assets`) when it matches the
// model, else a stable hue per code.
export function codeColour(palette, codebook, code) {
  if (palette && palette.codebook === codebook && code < palette.codebook) {
    return `rgb(${palette.rgb[3 * code]} ${palette.rgb[3 * code + 1]} ${palette.rgb[3 * code + 2]})`;
  }
  const h = (code * 137.508) % 360;
  return `hsl(${h.toFixed(0)} 55% ${45 + (code % 5) * 6}%)`;
}

// Token-state counts of one image (or clip) at a step (protocol.js TokenState); without states
// (nothing decoded yet) the first `given` tokens are given and the rest masked.
export function countStates(states, tokens, given = 0) {
  const counts = { masked: 0, now: 0, earlier: 0, given: 0 };
  for (let i = 0; i < tokens; i++) {
    const st = states ? states[i] : i < given ? TokenState.given : TokenState.masked;
    if (st === TokenState.masked) counts.masked++;
    else if (st === TokenState.fixedNow) counts.now++;
    else if (st === TokenState.given) counts.given++;
    else counts.earlier++;
  }
  return counts;
}

// Paints image `b` into the square (x, y, size) of ctx. `step` is the decode's StepTrace (null:
// nothing decoded yet, all masked), `image` that step's decoded ImageData for this image if any.
// `overlay: false` paints the picture alone: how a finished image is shown.
export function paintCell(ctx, x, y, size, { grid, codebook, palette, step, image, b, overlay }) {
  const [gh, gw] = grid;
  const tw = size / gw, th = size / gh;
  if (!step) {
    ctx.fillStyle = '#2a3142';
    ctx.fillRect(x, y, size, size);
    paintStates(ctx, x, y, size, gw, gh, null);
    return;
  }
  if (image) {
    if (!scratch) scratch = document.createElement('canvas');
    scratch.width = image.width;
    scratch.height = image.height;
    scratch.getContext('2d').putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(scratch, x, y, size, size);
  } else {
    const pred = step.predicted[b];
    for (let i = 0; i < gw * gh; i++) {
      ctx.fillStyle = codeColour(palette, codebook, pred[i]);
      ctx.fillRect(x + (i % gw) * tw, y + Math.floor(i / gw) * th, tw + 0.5, th + 0.5);
    }
  }
  if (overlay) paintStates(ctx, x, y, size, gw, gh, step.states[b]);
}

// Masked tokens: dark tiles with a dot; fixed this step: an orange frame; earlier or given
// (a clip's given frame, marked as a whole by animate.js): nothing.
function paintStates(ctx, x0, y0, size, gw, gh, states) {
  const tw = size / gw, th = size / gh, k = size / 160;
  for (let i = 0; i < gw * gh; i++) {
    const st = states ? states[i] : TokenState.masked;
    const x = x0 + (i % gw) * tw, y = y0 + Math.floor(i / gw) * th;
    if (st === TokenState.masked) {
      ctx.fillStyle = 'rgba(29, 36, 51, 0.80)';
      ctx.fillRect(x, y, tw, th);
      ctx.fillStyle = 'rgba(255, 255, 255, 0.10)';
      ctx.fillRect(x + tw / 2 - 1.5 * k, y + th / 2 - 1.5 * k, 3 * k, 3 * k);
    } else if (st === TokenState.fixedNow) {
      ctx.fillStyle = 'rgba(245, 165, 36, 0.22)';
      ctx.fillRect(x, y, tw, th);
      ctx.strokeStyle = '#f5a524';
      ctx.lineWidth = 3 * k;
      ctx.strokeRect(x + 1.5 * k, y + 1.5 * k, tw - 3 * k, th - 3 * k);
    }
  }
}
