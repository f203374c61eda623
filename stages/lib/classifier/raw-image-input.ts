// The path from a raw image (any size, background or white) to the network's input pixels, the same
// as training data took: canonical cell (segment's function) → stain normalisation (normalize's) →
// resize to the model's input size.
import sharp from 'sharp';
import { readFile } from 'node:fs/promises';
import { toCanonicalCell } from '../cell/cell-representation.js';
import { normalizeCell, type NormalizeParams } from '../stain/normalize-cell.js';
import type { CellOptions } from './train-record.js';

export interface RawImageInput {
  rgb: Uint8Array;
  /** 'ok', or 'fallback' when no cell was found and the centre of the image was used. */
  cellStatus: string;
  /** Why no cell was found (fallback), or what was doubtful; null when nothing was. */
  cellReason: string | null;
  /** The image's own size in pixels (before any working downscale). */
  sourceWidth: number;
  sourceHeight: number;
}

export async function rawImageToInput(
  path: string,
  options: { cell: CellOptions; normalization: NormalizeParams | null; size: number },
): Promise<RawImageInput> {
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
  const normalized = options.normalization ? normalizeCell(result.cell.data, width, height, options.normalization) : result.cell.data;
  const rgb =
    width === options.size && height === options.size
      ? normalized
      : new Uint8Array(
          await sharp(normalized, { raw: { width, height, channels: 3 } })
            .resize(options.size, options.size, { fit: 'fill', kernel: 'lanczos3' })
            .raw()
            .toBuffer(),
        );
  return { rgb, cellStatus: result.status, cellReason: result.record.reason, sourceWidth: result.record.sourceWidth, sourceHeight: result.record.sourceHeight };
}
