// The path from a raw image (any size, background or white) to the network's input pixels, the same
// as training data took: canonical cell (segment's function) → stain normalisation (normalize's) →
// resize to the model's input size. The first two steps depend only on the cell options and the
// normalisation, not on the model, so a stage can take them once for every model that shares them
// (shifted-cells) and each model does only the last (preparedCellToInput).
import sharp from 'sharp';
import { readFile } from 'node:fs/promises';
import { toCanonicalCell } from '../cell/cell-representation.js';
import { normalizeCell, type NormalizeParams } from '../stain/normalize-cell.js';
import type { RgbImage } from '../image/raster.js';
import type { CellOptions } from './train-record.js';

export interface PreparedCell {
  /** The canonical cell after normalisation, at the cell size. */
  cell: RgbImage;
  /** 'ok', or 'fallback' when no cell was found and the centre of the image was used. */
  cellStatus: string;
  /** Why no cell was found (fallback), or what was doubtful; null when nothing was. */
  cellReason: string | null;
  /** Output pixels per source pixel of the canonical crop (1 / scale ∝ the cell's diameter; cell-size.ts). */
  scale: number;
  /** The image's own size in pixels (before any working downscale). */
  sourceWidth: number;
  sourceHeight: number;
}

export interface RawImageInput extends Omit<PreparedCell, 'cell'> {
  rgb: Uint8Array;
}

/** Raw image file → normalised canonical cell. Errors name the file. */
export async function rawImageToCell(path: string, options: { cell: CellOptions; normalization: NormalizeParams | null }): Promise<PreparedCell> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new Error(`${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let result: Awaited<ReturnType<typeof toCanonicalCell>>;
  try {
    result = await toCanonicalCell(bytes, options.cell);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
  const { width, height } = result.cell;
  const data = options.normalization ? normalizeCell(result.cell.data, width, height, options.normalization) : result.cell.data;
  return {
    cell: { width, height, data },
    cellStatus: result.status,
    cellReason: result.record.reason,
    scale: result.record.scale,
    sourceWidth: result.record.sourceWidth,
    sourceHeight: result.record.sourceHeight,
  };
}

/** A prepared cell → the model's input pixels (size × size RGB). */
export async function preparedCellToInput(cell: RgbImage, size: number): Promise<Uint8Array> {
  const { width, height, data } = cell;
  if (width === size && height === size) return data;
  return new Uint8Array(
    await sharp(data, { raw: { width, height, channels: 3 } })
      .resize(size, size, { fit: 'fill', kernel: 'lanczos3' })
      .raw()
      .toBuffer(),
  );
}

export async function rawImageToInput(
  path: string,
  options: { cell: CellOptions; normalization: NormalizeParams | null; size: number },
): Promise<RawImageInput> {
  const { cell, ...rest } = await rawImageToCell(path, options);
  return { rgb: await preparedCellToInput(cell, options.size), ...rest };
}
