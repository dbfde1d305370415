// Runs a `magnets generate` command as the page's Reproduce box writes it (www/reproduce.js),
// with the native binary, and returns its trace.json. Used by the tests that compare the page's
// decode with the CLI's and by scripts/engine-agreement.mjs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLI } from '../../www/reproduce.js';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// MAGNETS_BIN, else the release build in CARGO_TARGET_DIR (scripts/env.sh) or target/.
export const nativeBinary = () => process.env.MAGNETS_BIN
  || path.join(process.env.CARGO_TARGET_DIR || path.join(repo, 'target'), 'release', 'magnets');

// `command`: the box's line (`cargo run --release -- generate … --out DIR`); `extra`: more flags
// (e.g. `--engine gpu`). Its --out goes to a temporary folder, removed after.
export function runGenerate(command, extra = []) {
  const bin = nativeBinary();
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: cargo build --release (or set MAGNETS_BIN)`);
  if (!command.startsWith(`${CLI} generate `)) throw new Error(`not a generate command: ${command}`);
  const words = command.slice(CLI.length + 1).split(' ');
  if (words.some((w) => /['"$]/.test(w))) throw new Error(`quoted words: ${command}`);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'magnets-cli-'));
  try {
    words[words.indexOf('--out') + 1] = out;
    const run = spawnSync(bin, [...words, ...extra], { cwd: repo, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${command} ${extra.join(' ')}\n${run.stderr}`);
    return JSON.parse(fs.readFileSync(path.join(out, 'trace.json'), 'utf8'));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}
