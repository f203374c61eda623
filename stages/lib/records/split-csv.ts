// The split stage's train.csv / val.csv / test.csv: one row per image (`file,class,lab,group,origin`),
// written by split and read by every stage after it (train, evaluate, shifted, cross-lab, audit, the
// report). This module owns the file's name, row type, writer and validating reader.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { csvField, parseCsvRows } from '../io/csv.js';

export type SplitName = 'train' | 'val' | 'test';
export const SPLITS: SplitName[] = ['train', 'val', 'test'];

export interface SplitRow {
  file: string;
  class: string;
  /** The lab the cell comes from. */
  lab: string;
  group: string;
  /** The original image: `<stage>/<path>` in a dep's outputs (the labs stage), else workspace-relative. */
  origin: string;
}

const COLUMNS = ['file', 'class', 'lab', 'group', 'origin'] as const;

/** `<dir>/<name>.csv`, where split publishes the rows of one split. */
export function splitCsvPath(dir: string, name: SplitName): string {
  return join(dir, `${name}.csv`);
}

/** The text of one split CSV, as split publishes it. */
export function splitRowsToCsv(rows: readonly SplitRow[]): string {
  return [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => csvField(r[c])).join(','))].join('\n') + '\n';
}

/** Rows of split CSV text; `file` names it in errors. `file` and `class` columns are required. */
export function parseSplitCsv(text: string, file: string): SplitRow[] {
  const [header, ...rows] = parseCsvRows(text, file);
  if (!header) return [];
  const column = (name: keyof SplitRow, required: boolean) => {
    const i = header.indexOf(name);
    if (i < 0 && required) throw new Error(`${file}: column "${name}" is missing (header: ${header.join(',')})`);
    return i;
  };
  const idx = { file: column('file', true), class: column('class', true), lab: column('lab', false), group: column('group', false), origin: column('origin', false) };
  return rows.map((r) => ({
    file: r[idx.file] ?? '',
    class: r[idx.class] ?? '',
    lab: idx.lab >= 0 ? (r[idx.lab] ?? '') : '',
    group: idx.group >= 0 ? (r[idx.group] ?? '') : '',
    origin: idx.origin >= 0 ? (r[idx.origin] ?? '') : '',
  }));
}

/** Reads one split CSV from disk; a missing file is an error naming it. */
export function readSplitCsv(path: string): SplitRow[] {
  if (!existsSync(path)) throw new Error(`${path}: split file is missing`);
  return parseSplitCsv(readFileSync(path, 'utf8'), path);
}

/** The labs of a split's rows, in first-seen order. */
export function labsOf(rows: readonly Pick<SplitRow, 'lab'>[]): string[] {
  return [...new Set(rows.map((r) => r.lab).filter((l) => l !== ''))];
}
