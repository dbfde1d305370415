// A model's measured table (NAME.eval.json from scripts/eval-table.mjs or
// scripts/eval-clips-table.mjs) as the markdown the docs show, sorted by FID, each row against the
// table's baseline. The docs hold the current tables between markers,
//
//   <!-- eval-table models/magnets-emoji-d256.eval.json -->
//   …generated…
//   <!-- /eval-table -->
//
// so that a re-measured model updates its docs with one command (scripts/eval-markdown.mjs
// --write) and a stale doc fails a test (tests/browser/docs.test.mjs).

import { TUNED_PICKS, guidanceText } from '../../www/assets.js';

const f2 = (v) => (v == null ? '–' : v.toFixed(2));
const f3 = (v) => (v == null ? '–' : v.toFixed(3));

/** The table as markdown lines (no trailing newline). */
export function evalMarkdown(t) {
  const out = [];
  const clip = t.kind === 'clip';
  const base = t.rows.find((r) => r.schedule === t.baseline.schedule && r.cache === t.baseline.cache);
  // A FID against a baseline row (the table's own unless given) as a signed percentage.
  const signed = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}%`;
  const pct = (v, against = base) => signed(v / against.fid - 1);
  // A row's gap with its paired interval where the table has one (`magnets fid-gap`).
  const gapText = (r, against) => pct(r.fid, against) + (r.gap_ci95 ? ` [${r.gap_ci95.map(signed).join(', ')}]` : '');
  const gapHead = (rs) => (rs.some((r) => r.gap_ci95) ? ' [paired 95%]' : '');
  const label = (r) => {
    const notes = [];
    if (r.schedule === t.baseline.schedule) notes.push('MaskGIT baseline');
    if (r.schedule === 'S3M3L3XL3') notes.push('MaGNeTS, paper split');
    for (const [key, name] of TUNED_PICKS) {
      if (t[key] && r.schedule === t[key].schedule && r.cache === t[key].cache) notes.push(`${name}: chosen on the selection seed`);
    }
    if (r.schedule === 'XL3L3M3S3') notes.push('reverse');
    return notes.length ? `${r.schedule} (${notes.join('; ')})` : r.schedule;
  };
  const rows = [...t.rows].sort((a, b) => a.fid - b.fid);
  if (clip) {
    const source = t.held_out ? ` of \`${t.held_out.clips}\`` : '';
    out.push(`${t.rows[0].clips} predicted clips per row (${t.settings.per_clip} per held-out clip${source}), seed ${t.settings.seed}; real motion ${f2(base.real_motion)} (its own codes decoded: ${f2(base.real_recon_motion)}), copy-first-frame PSNR ${f2(base.copy_first_frame_psnr)} dB`, '');
    out.push(`| schedule | cache | frame-FID ↓ [95% interval] | vs baseline${gapHead(rows)} | motion (real ${f2(base.real_motion)}) | PSNR frames 1–7 | GFLOPs / clip | less compute |`);
    out.push('|---|---|---|---|---:|---:|---:|---:|');
    for (const r of rows) {
      out.push(`| ${label(r)} | ${r.cache} | ${f2(r.fid)} [${r.fid_ci95.map(f2).join(', ')}] | ${r === base ? '—' : gapText(r)} | ${f2(r.motion)} | ${f2(r.future_psnr)} dB | ${f2(r.gflops_per_image)} | ${f2(r.flops_ratio)}× |`);
    }
  } else {
    out.push(`${t.settings.samples.toLocaleString('en-US')} class-balanced samples per row, seed ${t.settings.seed}, τ ${t.settings.tau}, temperature ${t.settings.temperature}, guidance ${guidanceText(t.settings.guidance, t.settings.guidance_schedule)}`, '');
    out.push(`| schedule | cache | FID-emoji ↓ [95% interval] | vs baseline${gapHead(rows)} | precision ↑ | recall ↑ | class acc. ↑ | GFLOPs / image | less compute |`);
    out.push('|---|---|---|---|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      out.push(`| ${label(r)} | ${r.cache} | ${f2(r.fid)}${r.fid_ci95 ? ` [${r.fid_ci95.map(f2).join(', ')}]` : ''} | ${r === base ? '—' : gapText(r)} | ${f3(r.precision)} | ${f3(r.recall)} | ${f3(r.class_accuracy)} | ${f3(r.gflops_per_image)} | ${f2(r.flops_ratio)}× |`);
    }
    // Per category: the share of samples the classifier names as their own category, beside
    // real held-out images' (what a category's samples can reach on this instrument).
    const shown = [base, ...['S3M3L3XL3', ...TUNED_PICKS.map(([key]) => t[key] && t[key].schedule), 'XL3L3M3S3']
      .map((s) => t.rows.find((r) => r.schedule === s && r.cache === 'on'))]
      .filter((r, i, all) => r && r.class_accuracy_by_class && all.indexOf(r) === i);
    if (t.classes && t.real_held_out && shown.length) {
      out.push('', `Class accuracy per category (real: ${t.real_held_out.count.toLocaleString('en-US')} held-out images; samples: the rows above):`, '');
      out.push(`| category | real held-out | ${shown.map((r) => `${r.schedule}${r === base ? ` (cache ${r.cache})` : ''}`).join(' | ')} |`);
      out.push(`|---|---:|${shown.map(() => '---:').join('|')}|`);
      t.classes.forEach((name, k) => {
        out.push(`| ${name} | ${f3(t.real_held_out.class_accuracy_by_class[k])} | ${shown.map((r) => f3(r.class_accuracy_by_class[k])).join(' | ')} |`);
      });
    }
  }
  if (t.confirm) {
    // The same rows on a second test seed: each gap against that seed's own baseline.
    const cbase = t.confirm.rows.find((r) => r.schedule === t.baseline.schedule && r.cache === t.baseline.cache);
    out.push('', `A second test seed (${t.confirm.seed}; ${t.confirm.samples.toLocaleString('en-US')} samples per row, decode seeds disjoint from the test's and the selection's):`, '');
    const heads = gapHead(t.confirm.rows);
    out.push(`| schedule | cache | FID-emoji ↓ [95% interval] | vs baseline, seed ${t.confirm.seed}${heads} | vs baseline, seed ${t.settings.seed}${heads} | class acc. ↑ | less compute |`);
    out.push('|---|---|---|---:|---:|---:|---:|');
    for (const r of t.confirm.rows) {
      const first = t.rows.find((x) => x.schedule === r.schedule && x.cache === r.cache);
      out.push(`| ${label(r)} | ${r.cache} | ${f2(r.fid)} [${r.fid_ci95.map(f2).join(', ')}] | ${r === cbase ? '—' : gapText(r, cbase)} | ${!first || first === base ? '—' : gapText(first)} | ${f3(r.class_accuracy)} | ${f2(r.flops_ratio)}× |`);
    }
  }
  if (t.tuned && t.tuned.selection) {
    out.push('', `Selection (${t.tuned.chosen}):`, '');
    out.push(t.tuned.selection.map((s) => `${s.schedule} ${f2(s.fid)}${s.motion != null ? ` / motion ${f2(s.motion)}` : ''} (${f2(s.flops_ratio)}×)`).join(' · '));
    // The ≥ 4× pick is chosen from the same rows (those of the list above with ≥ 4×).
    if (t.tuned_4x) out.push('', `Tuned 4×: ${t.tuned_4x.schedule}, ${t.tuned_4x.chosen}.`);
  }
  return out.join('\n');
}

const BLOCK = /(<!-- eval-table (\S+) -->\n)([\s\S]*?)(<!-- \/eval-table -->)/g;

/** Every marked block of a doc: { table: the eval.json path (repo-relative), text: what is there now }. */
export const evalBlocks = (doc) => [...doc.matchAll(BLOCK)].map((m) => ({ table: m[2], text: m[3] }));

/** The doc with every marked block re-rendered; `read(path)` returns a table's JSON text. */
export const refreshEvalBlocks = (doc, read) =>
  doc.replace(BLOCK, (_, open, table, _old, close) => `${open}\n${evalMarkdown(JSON.parse(read(table)))}\n\n${close}`);
