// Which pixels of a cell-on-white image belong to the cell.

/** Default: a pixel whose darkest channel is at least this bright counts as white background. */
export const DEFAULT_WHITE_THRESHOLD = 245;

/** 1 where the pixel is part of the cell (not near-white), 0 for background. */
export function cellMask(
  rgb: Uint8Array,
  width: number,
  height: number,
  whiteThreshold = DEFAULT_WHITE_THRESHOLD,
): Uint8Array {
  assertRgb(rgb, width, height);
  const n = width * height;
  const mask = new Uint8Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    const lo = Math.min(rgb[p]!, rgb[p + 1]!, rgb[p + 2]!);
    mask[i] = lo < whiteThreshold ? 1 : 0;
  }
  return mask;
}

export function countMask(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i]!;
  return n;
}

/** Throws a clear error when a buffer is not width×height×3. */
export function assertRgb(rgb: Uint8Array, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`image size must be positive integers, got ${width}x${height}`);
  }
  if (rgb.length !== width * height * 3) {
    throw new Error(`RGB buffer has ${rgb.length} bytes, expected ${width}x${height}x3 = ${width * height * 3}`);
  }
}
