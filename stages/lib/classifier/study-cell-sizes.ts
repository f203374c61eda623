// Each study image's cell size relative to its lab (cell-size.ts), from segment's records: the
// originals' diameters, each lab's median over all of its cells (unlabelled information, as AdaBN's
// statistics are), and an augmented variant's value as its cell's, jittered.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StageError } from '../../../pipeline/stage-api.js';
import type { SegmentRecord } from '../records/segment-record.js';
import { originalOfVariant, variantIndexOf } from '../records/augment-variant-name.js';
import { cellKey } from '../io/item-files.js';
import { cellDiameter, jitteredCellSize, median, relativeCellSize } from './cell-size.js';

export interface StudyCellSizes {
  /** The value of a split row's file (`<stage>/cells/<lab>/<CLASS>/<stem>.png` or `<stage>/variants/…__v<k>.png`). */
  of(file: string): number;
  /** Each lab's median of d (cell-size.ts: 1 / the crop's scale). */
  medians: Record<string, number>;
}

/** Reads segment's records.jsonl (in `segmentDir`) once; `jitter` applies to augmented variants. */
export function studyCellSizes(segmentDir: string, jitter: number): StudyCellSizes {
  const path = join(segmentDir, 'records.jsonl');
  if (!existsSync(path)) throw new StageError('segment wrote no records.jsonl: the cells\' sizes are unknown', path);
  const diameters = new Map<string, number | null>();
  const byLab = new Map<string, number[]>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as SegmentRecord;
    if (!r.cell) continue;
    const d = cellDiameter(r);
    diameters.set(cellKey(r.cell).key, d);
    if (d !== null) (byLab.get(r.lab) ?? byLab.set(r.lab, []).get(r.lab)!).push(d);
  }
  const medians = Object.fromEntries([...byLab].map(([lab, ds]) => [lab, median(ds)!] as const));
  return {
    medians,
    of(file) {
      const rel = file.slice(file.indexOf('/') + 1);
      const variant = variantIndexOf(rel);
      const { key, lab, stem } = cellKey(originalOfVariant(rel));
      const d = diameters.get(key);
      if (d === undefined) throw new StageError(`no segment record for ${file}'s cell (${key}); rerun segment`, path);
      const value = relativeCellSize(d, medians[lab] ?? null);
      return variant === null ? value : jitteredCellSize(value, `${stem}__v${variant}`, jitter);
    },
  };
}
