// From the page to the command line: the `magnets generate` command that decodes the page's
// tokens again (the same weights file, request and seeds; the engines agree token for token up
// to float near-ties: tests/gpu_parity.rs, reproduce.test.mjs and the page test that runs this
// command), the command that measures the
// schedule's quality the way the model's eval table did, and the decode's trace in the CLI's
// `trace.json` format. Pure functions: tests/browser/reproduce.test.mjs runs them in node.

// From a clone of the repository (README, "Command line").
export const CLI = 'cargo run --release --';

// Shell words: everything the page puts in a command is plain, but a link's values are quoted
// rather than trusted.
const PLAIN = /^[A-Za-z0-9_.,:/=+-]+$/;
export const shellWord = (v) => {
  const s = String(v);
  return PLAIN.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
};
const line = (words) => words.map(shellWord).join(' ');

// The sampling flags of a page request (state.js names → the CLI's), always explicit: the CLI's
// defaults follow models/models.json, which may change after a link was shared.
const samplingFlags = (r) => [
  '--temperature', r.temperature, '--noise', r.tau, '--guidance', r.guidance,
  '--guidance-schedule', r.guidance_schedule || 'constant',
];

// model: the manifest entry ({id, kind, cli: {weights, tokens?}}), or null for a link's own
// weights; request: the run's PageRequest; clips: Animate's resolved clips ({start}; a carried
// frame has start null, and its codes are the request's context). Returns {command}, or {why}
// when the CLI cannot take this decode.
export function generateCommand({ model, request, clips = null }) {
  if (!model || !model.cli || !model.cli.weights) return { why: 'these weights came with the link (w=…): pass their file to `magnets generate --weights`' };
  const words = [...CLI.split(' '), 'generate', '--weights', model.cli.weights];
  if (model.kind === 'clip') {
    if (!clips || !clips.length) return { why: 'no clips to reproduce' };
    if (clips.every((c) => c.start != null)) {
      words.push('--clips-tokens', model.cli.tokens, '--start', clips.map((c) => c.start).join(','));
    } else {
      // A generated emoji's frame, continued once per clip (`--context`: the same frame for all).
      const frame = request.context && request.context[0];
      if (!frame || request.context.some((c) => c.join() !== frame.join())) return { why: 'these clips do not share one given frame' };
      words.push('--context', frame.join(','));
    }
  }
  words.push(
    '--class', request.classes.join(','), '--schedule', request.schedule, '--cache', request.cache,
    '--seed', request.seed, ...samplingFlags(request), '--out', `magnets-seed${request.seed}`,
  );
  return { command: line(words) };
}

// The eval table's own command (its `command`: SCHEDULE and CACHE left open, the instrument
// and sample count fixed) for this schedule, cache and sampling. null without a table.
export function measureCommand(table, request) {
  if (!table || typeof table.command !== 'string' || !/^magnets eval/.test(table.command)) return null;
  const words = table.command.split(/\s+/).map((w) => (w === 'SCHEDULE' ? request.schedule : w === 'CACHE' ? request.cache : w));
  const flags = samplingFlags(request);
  for (let i = 0; i < flags.length; i += 2) {
    const at = words.indexOf(flags[i]);
    if (at >= 0) words[at + 1] = String(flags[i + 1]);
    else words.push(flags[i], String(flags[i + 1]));
  }
  return line([...CLI.split(' '), ...words.slice(1)]);
}

// What the measure command needs besides the repository (the table's data files).
export function measureNeeds(table) {
  if (!table || typeof table.command !== 'string') return null;
  if (/^magnets eval-clips/.test(table.command)) return 'the clips: `magnets data --anim`';
  if (/--data data\//.test(table.command)) return 'the images: `scripts/instrument.sh data`';
  return null;
}

// The decode as `magnets generate --out` writes it (trace.json: the run's trace with every
// step's grids), plus where it came from.
export function traceFile(run, about) {
  if (!run || !run.done || !run.trace) return null;
  return { ...run.trace, steps: run.steps, page: about };
}
