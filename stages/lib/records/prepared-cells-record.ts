// prepared-cells.json: raw test images already taken through predict's path up to the model's input
// (canonical cell → normalisation), with the settings used. Written by shifted-cells, read by evaluate,
// which uses a prepared cell only when its model was trained with exactly those settings.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DepOutput } from '../../../pipeline/stage-api.js';
import type { NormalizeParams } from '../stain/normalize-cell.js';
import type { CellOptions } from '../classifier/train-record.js';

export const PREPARED_CELLS_JSON = 'prepared-cells.json';

export interface PreparedCellEntry {
  /** The stage whose raw image this is (e.g. `shifted`) and the image's path in its outputs. */
  set: string;
  file: string;
  /** The prepared cell (lossless PNG at the cell size) in the preparing stage's outputs. */
  cell: string;
  /** toCanonicalCell's status: 'ok', or 'fallback' when no cell was found. */
  status: string;
  reason: string | null;
  /** The canonical crop's output pixels per source pixel (the cell's size; absent in records from before it). */
  scale?: number;
}

export interface PreparedCellsRecord {
  cell: CellOptions;
  normalization: NormalizeParams | null;
  layout: string;
  items: PreparedCellEntry[];
}

export const PREPARED_CELLS_LAYOUT = 'cells/<set stageId>/<file in that stage>.png — the normalised canonical cell; records/<same>.json — its entry';

/** Where one raw image's prepared cell and its entry go. */
export function preparedCellPaths(set: string, file: string): { cell: string; record: string } {
  return { cell: `cells/${set}/${file}.png`, record: `records/${set}/${file}.json` };
}

/** JSON with sorted keys, so settings compare by value whatever order they were written in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * The prepared cells a model with these settings may use, by `<set>/<file>` (absolute path and status), or the
 * reason it may not (settings differ, nothing prepared).
 */
export function preparedCellsFor(
  dep: DepOutput,
  model: { cell: CellOptions | null; normalization: NormalizeParams | null },
): { cells: Map<string, { path: string; status: string; scale?: number }> } | { reason: string } {
  const path = join(dep.dir, PREPARED_CELLS_JSON);
  if (!existsSync(path)) return { reason: `${dep.instanceId} wrote no ${PREPARED_CELLS_JSON}` };
  const record = JSON.parse(readFileSync(path, 'utf8')) as PreparedCellsRecord;
  if (canonical(record.cell) !== canonical(model.cell)) return { reason: `${dep.instanceId} cut cells with other options than the model's` };
  if (canonical(record.normalization) !== canonical(model.normalization)) {
    return { reason: `${dep.instanceId} normalised cells otherwise than the model's training data` };
  }
  return { cells: new Map(record.items.map((it) => [`${it.set}/${it.file}`, { path: join(dep.dir, it.cell), status: it.status, ...(it.scale !== undefined ? { scale: it.scale } : {}) }])) };
}
