// Reads the split stage's CSVs (records/split-csv.ts) for training and evaluation: resolves each
// `file` (`<stageId>/<relpath>`: the record names the stage that produced the image) to an absolute path
// through the instance's deps, and the class to its index.
import { join } from 'node:path';
import type { DepOutput } from '../../../pipeline/stage-api.js';
import { readSplitCsv, splitCsvPath, type SplitRow } from '../records/split-csv.js';

export interface LabelledFile extends SplitRow {
  /** Absolute path of the image. */
  path: string;
  /** Index of `class` in the study's class list. */
  label: number;
}

/** Maps `<stageId>/<relpath>` to `<dep dir>/<relpath>` using the dep whose stageId matches. */
export function resolveStageFile(file: string, deps: Record<string, DepOutput>, subject: string): string {
  const slash = file.indexOf('/');
  const stageId = slash > 0 ? file.slice(0, slash) : '';
  const rel = file.slice(slash + 1);
  const dep = Object.values(deps).find((d) => d.stageId === stageId || d.instanceId === stageId);
  if (!dep) {
    const known = [...new Set(Object.values(deps).map((d) => d.stageId))].join(', ');
    throw new Error(`${subject}: file "${file}" names stage "${stageId}", which is not a dependency (deps: ${known})`);
  }
  return join(dep.dir, rel);
}

/**
 * Reads `<split>/<name>.csv` of the split dep (the stage passes `ctx.dep('split')`) and attaches absolute
 * paths, resolved through all of the instance's deps, and label indices.
 */
export function readLabelledSplit(
  split: DepOutput,
  deps: Record<string, DepOutput>,
  name: 'train' | 'val' | 'test',
  classes: readonly string[],
): LabelledFile[] {
  const csv = splitCsvPath(split.dir, name);
  return readSplitCsv(csv).map((row, i) => {
    const label = classes.indexOf(row.class);
    if (label < 0) throw new Error(`${csv} row ${i + 2}: class "${row.class}" is not one of ${classes.join(', ')}`);
    return { ...row, label, path: resolveStageFile(row.file, deps, `${csv} row ${i + 2}`) };
  });
}
