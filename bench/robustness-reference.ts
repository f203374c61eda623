// Computes the fixed reference statistics for stain normalisation (stages/lib/stain/reference.ts)
// from a folder of <CLASS>/<image> files: median over cells of each cell's LAB mean/std, RGB means and
// Macenko basis. Each image goes through the canonical cell representation first (a segmented cell
// on white passes through it unchanged in colour). Print only; the constants are pasted into
// reference.ts so the normalize stage never depends on the data set at run time.
//   node --import tsx bench/robustness-reference.ts <dir> [maxPerClass]
import path from 'node:path';
import fg from 'fast-glob';
import { readFile } from 'node:fs/promises';
import { toCanonicalCell } from '../stages/lib/cell/cell-representation.js';
import { cellMask, countMask } from '../stages/lib/stain/cell-mask.js';
import { rgbMeans } from '../stages/lib/stain/grey-world.js';
import { estimateStainBasis } from '../stages/lib/stain/macenko.js';
import { labStats } from '../stages/lib/stain/reinhard.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: robustness-reference.ts <cellsDir> [maxPerClass]');
const maxPerClass = Number(process.argv[3] ?? 100);
const files = (await fg('*/*.{png,jpg,jpeg}', { cwd: dir })).sort();
const byClass = new Map<string, string[]>();
for (const f of files) {
  const cls = f.split('/')[0]!;
  byClass.set(cls, [...(byClass.get(cls) ?? []), f]);
}
for (const [cls, list] of byClass) {
  const step = Math.max(1, Math.floor(list.length / maxPerClass));
  byClass.set(cls, list.filter((_, i) => i % step === 0).slice(0, maxPerClass));
}
const cols: Record<string, number[]> = {};
const push = (k: string, v: number) => (cols[k] ??= []).push(v);
for (const f of [...byClass.values()].flat()) {
  const canonical = await toCanonicalCell(await readFile(path.join(dir, f)), { name: f });
  if (canonical.status !== 'ok') continue;
  const rgb = canonical.cell.data;
  const mask = cellMask(rgb, canonical.cell.width, canonical.cell.height);
  if (countMask(mask) < 100) continue;
  const lab = labStats(rgb, mask)!;
  lab.mean.forEach((v, c) => push(`labMean${c}`, v));
  lab.std.forEach((v, c) => push(`labStd${c}`, v));
  rgbMeans(rgb, mask)!.forEach((v, c) => push(`rgb${c}`, v));
  const basis = estimateStainBasis(rgb, mask);
  if (basis) {
    basis.stains.forEach((s, k) => s.forEach((v, c) => push(`stain${k}${c}`, v)));
    basis.maxConcentrations.forEach((v, k) => push(`maxC${k}`, v));
  }
}
const median = (k: string) => {
  const v = [...(cols[k] ?? [])].sort((a, b) => a - b);
  return Number((v[Math.floor(v.length / 2)] ?? NaN).toFixed(4));
};
const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => Number((x / n).toFixed(4)));
};
console.log(
  JSON.stringify(
    {
      cells: cols.labMean0?.length ?? 0,
      lab: { mean: [0, 1, 2].map((c) => median(`labMean${c}`)), std: [0, 1, 2].map((c) => median(`labStd${c}`)) },
      stains: {
        stains: [0, 1].map((k) => unit([0, 1, 2].map((c) => median(`stain${k}${c}`)))),
        maxConcentrations: [0, 1].map((k) => median(`maxC${k}`)),
      },
      rgbMean: [0, 1, 2].map((c) => median(`rgb${c}`)),
    },
    null,
    2,
  ),
);
