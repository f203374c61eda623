// How a raw image is cut and coloured before a model sees it, as the data stages recorded it: segment's
// canonical-cell options (summary.json `params`) and normalize's resolved normalisation (normalize.json).
// train records both for predict; shifted-cells prepares the shifted sets with them.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NormalizeParams } from '../stain/normalize-cell.js';
import type { CellOptions } from './train-record.js';

function readJsonIfPresent<T>(path: string): T | null {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : null;
}

/** segment's canonical-cell options, or null when its summary gives none. `margin` falls back to `defaultMargin`. */
export function segmentCellOptions(segmentDir: string, defaultMargin: number): CellOptions | null {
  const fromSegment = readJsonIfPresent<{ params?: Partial<CellOptions> }>(join(segmentDir, 'summary.json'))?.params;
  if (!fromSegment || typeof fromSegment.size !== 'number') return null;
  return { ...fromSegment, size: fromSegment.size, margin: fromSegment.margin ?? defaultMargin };
}

/** The normalisation normalize applied (reference resolved), or null when it recorded none. */
export function recordedNormalization(normalizeDir: string): NormalizeParams | null {
  return readJsonIfPresent<NormalizeParams>(join(normalizeDir, 'normalize.json'));
}
