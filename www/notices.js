// What the page says above the grids: problems with the link's settings (the banner), how the
// engine runs (the notice), and, when the demo cannot start, why and what to do.
import { Bundle, Fallback, ErrorKind } from './protocol.js';

const $ = (id) => document.getElementById(id);

export function showBanner(lines) {
  const b = $('banner');
  if (!lines || !lines.length) { b.hidden = true; b.textContent = ''; return; }
  b.textContent = lines.join('\n');
  b.hidden = false;
}

// `action`: {label, onClick}, a button after the text (e.g. an offer of another model).
export function showNotice(text, action = null) {
  const n = $('notice');
  n.hidden = !text;
  n.textContent = text || '';
  if (text && action) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'notice-action';
    b.textContent = action.label;
    b.onclick = action.onClick;
    n.append(' ', b);
  }
}

const problemLines = (problems) => (problems.length ? ['Some settings in the link could not be used:', ...problems.map((p) => '• ' + p)] : []);

// The link's problems (state.js parseHash, and values the model refused), or no banner.
export const reportProblems = (problems) => showBanner(problemLines(problems));

// The demo cannot run: the banner says why (`message`), the failure card what to do about it
// (chosen by the error's kind, protocol.js ErrorKind).
export function showFatal(message, kind, problems) {
  document.body.dataset.status = 'error';
  document.body.dataset.failure = kind || ErrorKind.other;
  $('engine-badge').textContent = 'no engine';
  $('engine-badge').className = 'badge err';
  $('loading').classList.add('done');
  const before = problemLines(problems);
  showBanner([...before, ...(before.length ? [''] : []), 'The demo could not start: ' + message]);
  document.body.classList.add('failed');
  $('failure').hidden = false;
  $('failure-text').textContent = kind === ErrorKind.downloadFailed
    ? 'The model file could not be downloaded. Check the connection, or that the site ships models/ next to this page.'
    : kind === ErrorKind.badWeights || kind === ErrorKind.badConfig
      ? 'The model file is damaged or does not match this page. Reloading fetches it again.'
      : 'This browser could not run the engine (it needs WebAssembly with SIMD; WebGPU is optional).';
  $('failure-reset').href = location.pathname + location.search;
}

// Why the CPU engine runs, from what the worker detected ({code: Fallback.X, detail}). The CPU
// path decodes the same tokens; on a software GPU adapter it is the quicker of the two.
export function fallbackSentence(f) {
  const same = 'runs the same model on the CPU (WebAssembly): the same decode and, but for rare rounding ties, the same images.';
  const code = f && f.code;
  const detail = f && f.detail ? ` (${f.detail})` : '';
  if (code === Fallback.noWebgpu) return `This browser does not offer WebGPU, so the demo ${same}`;
  if (code === Fallback.noAdapter) return `This browser supports WebGPU but found no GPU adapter to use, so the demo ${same}`;
  if (code === Fallback.adapterError) return `Asking for a WebGPU adapter failed${detail}, so the demo ${same}`;
  if (code === Fallback.engineFailed) return `WebGPU is available, but the GPU engine could not start on it${detail}, so the demo ${same}`;
  if (code === Fallback.requested) return `The link asks for the CPU engine (cpu=1): the demo ${same}`;
  if (code === Fallback.softwareGpu) {
    return `This GPU is emulated in software${detail}, so the demo runs on the CPU engine (WebAssembly), over ten times faster there: the same decode and, but for rare rounding ties, the same images (gpu=1 in the link keeps WebGPU).`;
  }
  return `The demo ${same}`;
}

// How far the model download is (protocol.js Msg.progress).
export function showLoadProgress({ what, loaded, total, cached }) {
  const pct = total ? Math.min(100, (100 * loaded) / total) : 0;
  $('progress-bar').style.width = pct.toFixed(1) + '%';
  const mb = (x) => (x / 1048576).toFixed(2);
  $('loading-text').textContent = cached
    ? `Loaded the ${what} from the cache (${mb(total)} MB)`
    : `Downloading the ${what}… ${mb(loaded)}${total ? ' / ' + mb(total) : ''} MB`;
}

// The engine in use: WebGPU, the CPU engine a software GPU runs by choice (the quicker one
// there), or the CPU fallback (marked: WebGPU was wanted and is not there).
export function setEngineBadge(bundle, fallback) {
  const badge = $('engine-badge');
  const chosen = bundle !== Bundle.webgpu && !!fallback && fallback.code === Fallback.softwareGpu;
  badge.textContent = bundle === Bundle.webgpu ? 'WebGPU' : chosen ? 'CPU engine' : 'CPU fallback';
  badge.className = bundle === Bundle.webgpu || chosen ? 'badge' : 'badge cpu';
}
