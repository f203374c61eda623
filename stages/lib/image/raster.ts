// Plain typed-array rasters shared by the pixel code: interleaved RGB and binary masks.

/** Interleaved 8-bit RGB, row-major, no padding. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Binary mask, one byte per pixel: 1 inside, 0 outside. */
export interface Mask {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface BBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function createMask(width: number, height: number): Mask {
  return { width, height, data: new Uint8Array(width * height) };
}

/** `box` grown by `margin` on every side, clipped to a width×height image. */
export function grownBox(box: BBox, margin: number, width: number, height: number): BBox {
  const x0 = Math.max(0, box.x - margin), y0 = Math.max(0, box.y - margin);
  const x1 = Math.min(width, box.x + box.width + margin), y1 = Math.min(height, box.y + box.height + margin);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** The part of a one-byte-per-pixel plane of the given width that lies in `box`. */
export function cropPlane(data: Uint8Array, width: number, box: BBox): Uint8Array {
  const out = new Uint8Array(box.width * box.height);
  for (let y = 0; y < box.height; y++) {
    const from = (box.y + y) * width + box.x;
    out.set(data.subarray(from, from + box.width), y * box.width);
  }
  return out;
}

export function cropMask(mask: Mask, box: BBox): Mask {
  return { width: box.width, height: box.height, data: cropPlane(mask.data, mask.width, box) };
}

/** `part` (of `box`'s size) placed at `box` in an otherwise empty width×height mask. */
export function pasteMask(part: Mask, box: BBox, width: number, height: number): Mask {
  const out = createMask(width, height);
  for (let y = 0; y < box.height; y++) out.data.set(part.data.subarray(y * box.width, (y + 1) * box.width), (box.y + y) * width + box.x);
  return out;
}

export function maskArea(mask: Mask): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i]!;
  return n;
}

export function maskBBox(mask: Mask): BBox | null {
  const { width, height, data } = mask;
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (data[row + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

export function maskAnd(a: Mask, b: Mask): Mask {
  const out = createMask(a.width, a.height);
  for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[i]! & b.data[i]!;
  return out;
}

export function maskOr(a: Mask, b: Mask): Mask {
  const out = createMask(a.width, a.height);
  for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[i]! | b.data[i]!;
  return out;
}

/** Dice coefficient of two masks of the same size (1 when both are empty). */
export function dice(a: Mask, b: Mask): number {
  let inter = 0, sa = 0, sb = 0;
  for (let i = 0; i < a.data.length; i++) {
    inter += a.data[i]! & b.data[i]!;
    sa += a.data[i]!;
    sb += b.data[i]!;
  }
  return sa + sb === 0 ? 1 : (2 * inter) / (sa + sb);
}

/** Boundary pixel count (4-neighbour edges; the image border counts as outside), a cheap perimeter estimate. */
export function maskPerimeter(mask: Mask): number {
  const { width: w, height: h, data } = mask;
  let p = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!data[i]) continue;
      if (x === 0 || !data[i - 1] || x === w - 1 || !data[i + 1] || y === 0 || !data[i - w] || y === h - 1 || !data[i + w]) p++;
    }
  }
  return p;
}

/** 4πA/P² with P from maskPerimeter: 1 for a disc, small for ragged or thin outlines. */
export function maskCompactness(mask: Mask, area = maskArea(mask)): number {
  return (4 * Math.PI * area) / Math.max(1, maskPerimeter(mask)) ** 2;
}

/** Whether the mask reaches the image's outermost row or column (false for an empty mask). */
export function maskTouchesBorder(mask: Mask): boolean {
  const b = maskBBox(mask);
  return !!b && (b.x === 0 || b.y === 0 || b.x + b.width === mask.width || b.y + b.height === mask.height);
}
