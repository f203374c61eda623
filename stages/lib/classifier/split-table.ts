// Reads the split stage's train.csv / val.csv / test.csv (`file,class,lab,group,origin`) and resolves
// each `file` (`<stageId>/<relpath>`) to an absolute path through the instance's deps.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DepOutput } from '../../../pipeline/stage-api.js';
import { parseCsvRows } from '../csv.js';
import type { SplitRow } from '../../split.js';

export type { SplitRow };

export interface LabelledFile extends SplitRow {
  /** Absolute path of the image. */
  path: string;
  /** Index of `class` in the study's class list. */
  label: number;
}

export function readSplitCsv(path: string): SplitRow[] {
  if (!existsSync(path)) throw new Error(`${path}: split file is missing`);
  const [header, ...rows] = parseCsvRows(readFileSync(path, 'utf8'), path);
  if (!header) return [];
  const column = (name: keyof SplitRow, required: boolean) => {
    const i = header.indexOf(name);
    if (i < 0 && required) throw new Error(`${path}: column "${name}" is missing (header: ${header.join(',')})`);
    return i;
  };
  // `source` is what split CSVs called the lab before labs were declared; still read.
  const labColumn = header.includes('lab') ? column('lab', false) : header.indexOf('source');
  const idx = { file: column('file', true), class: column('class', true), lab: labColumn, group: column('group', false), origin: column('origin', false) };
  return rows.map((r) => ({
    file: r[idx.file] ?? '',
    class: r[idx.class] ?? '',
    lab: idx.lab >= 0 ? (r[idx.lab] ?? '') : '',
    group: idx.group >= 0 ? (r[idx.group] ?? '') : '',
    origin: idx.origin >= 0 ? (r[idx.origin] ?? '') : '',
  }));
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

/** Finds the split dep's directory. */
export function splitDir(deps: Record<string, DepOutput>, stageId = 'split'): string {
  const dep = Object.values(deps).find((d) => d.stageId === stageId);
  if (!dep) throw new Error(`the "${stageId}" stage is not a dependency of this instance`);
  return dep.dir;
}

/** Reads `<split>/<name>.csv` and attaches absolute paths and label indices. */
export function readLabelledSplit(
  deps: Record<string, DepOutput>,
  name: 'train' | 'val' | 'test',
  classes: readonly string[],
): LabelledFile[] {
  const csv = join(splitDir(deps), `${name}.csv`);
  return readSplitCsv(csv).map((row, i) => {
    const label = classes.indexOf(row.class);
    if (label < 0) throw new Error(`${csv} row ${i + 2}: class "${row.class}" is not one of ${classes.join(', ')}`);
    return { ...row, label, path: resolveStageFile(row.file, deps, `${csv} row ${i + 2}`) };
  });
}

/** The labs of a split's rows, in first-seen order. */
export function labsOf(rows: readonly Pick<SplitRow, 'lab'>[]): string[] {
  return [...new Set(rows.map((r) => r.lab).filter((l) => l !== ''))];
}
