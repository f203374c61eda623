// Synthetic smear images with known answers for the data-stage tests.
import type { Mask, RgbImage } from '../../stages/lib/image/raster.js';
import { createMask } from '../../stages/lib/image/raster.js';

export interface Disc {
  cx: number;
  cy: number;
  r: number;
  rgb: [number, number, number];
}

/** Paints discs in order onto a flat background. */
export function paint(width: number, height: number, background: [number, number, number], discs: Disc[]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(background, 3 * i);
  for (const d of discs) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if ((x - d.cx) ** 2 + (y - d.cy) ** 2 <= d.r * d.r) data.set(d.rgb, 3 * (y * width + x));
      }
    }
  }
  return { width, height, data };
}

export function discMask(width: number, height: number, cx: number, cy: number, r: number): Mask {
  const m = createMask(width, height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m.data[y * width + x] = 1;
  return m;
}

export const PLASMA: [number, number, number] = [240, 226, 205];
export const RED_CELL: [number, number, number] = [222, 172, 168];
export const CYTOPLASM: [number, number, number] = [205, 185, 220];
export const NUCLEUS: [number, number, number] = [95, 55, 150];

/**
 * A PBC-like crop: leukocyte (cytoplasm r=40, nucleus r=20) at (cx, cy), red cells around it, one
 * touching the leukocyte, another leukocyte-like blob in a corner to be ignored.
 */
export function pbcLike(width = 200, height = 200, cx = 100, cy = 100): { image: RgbImage; truth: Mask } {
  const image = paint(width, height, PLASMA, [
    { cx: cx + 62, cy, r: 26, rgb: RED_CELL }, // touches the cell's right edge
    { cx: 25, cy: 170, r: 24, rgb: RED_CELL },
    { cx: cx - 60, cy: cy - 55, r: 22, rgb: RED_CELL },
    { cx: 15, cy: 15, r: 12, rgb: NUCLEUS }, // a stray stained fragment away from the centre
    { cx, cy, r: 40, rgb: CYTOPLASM },
    { cx: cx + 5, cy: cy - 3, r: 20, rgb: NUCLEUS },
  ]);
  return { image, truth: discMask(width, height, cx, cy, 40) };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: () => Promise<unknown>): Promise<Error> {
  try {
    await p();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}
