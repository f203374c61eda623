// Morphology with disk-shaped structuring elements of any radius in O(pixels), by thresholding a
// Euclidean-like distance transform instead of sliding a kernel.
import { createMask, cropMask, grownBox, maskBBox, pasteMask, type Mask } from './raster.js';

/**
 * Chamfer (5-7-11) distance, in pixels, from every pixel to the nearest pixel where `target` is 1.
 * Pixels outside the image count as not target, so they never attract.
 */
export function distanceTo(mask: Mask, target: 0 | 1): Float32Array {
  const { width: w, height: h, data } = mask;
  // Work on a copy padded by 2 pixels on each side (padding never attracts), so the inner loops
  // need no bounds checks; weights 5, 7, 11 for steps (1,0), (1,1), (2,1), divided by 5 at the end.
  const W = w + 4, H = h + 4;
  const INF = 1e9;
  const d = new Int32Array(W * H).fill(INF); // integer chamfer sums: exact, and faster than floats
  for (let y = 0; y < h; y++) {
    const row = (y + 2) * W + 2;
    for (let x = 0; x < w; x++) if (data[y * w + x] === target) d[row + x] = 0;
  }
  const n1 = W, n2 = 2 * W;
  for (let y = 2; y < H - 2; y++) {
    for (let p = y * W + 2, end = y * W + W - 2; p < end; p++) {
      let b = d[p]!;
      if (b === 0) continue;
      let v: number;
      if ((v = d[p - 1]! + 5) < b) b = v;
      if ((v = d[p - n1]! + 5) < b) b = v;
      if ((v = d[p - n1 - 1]! + 7) < b) b = v;
      if ((v = d[p - n1 + 1]! + 7) < b) b = v;
      if ((v = d[p - n1 - 2]! + 11) < b) b = v;
      if ((v = d[p - n1 + 2]! + 11) < b) b = v;
      if ((v = d[p - n2 - 1]! + 11) < b) b = v;
      if ((v = d[p - n2 + 1]! + 11) < b) b = v;
      d[p] = b;
    }
  }
  for (let y = H - 3; y >= 2; y--) {
    for (let p = y * W + W - 3, end = y * W + 2; p >= end; p--) {
      let b = d[p]!;
      if (b === 0) continue;
      let v: number;
      if ((v = d[p + 1]! + 5) < b) b = v;
      if ((v = d[p + n1]! + 5) < b) b = v;
      if ((v = d[p + n1 + 1]! + 7) < b) b = v;
      if ((v = d[p + n1 - 1]! + 7) < b) b = v;
      if ((v = d[p + n1 + 2]! + 11) < b) b = v;
      if ((v = d[p + n1 - 2]! + 11) < b) b = v;
      if ((v = d[p + n2 + 1]! + 11) < b) b = v;
      if ((v = d[p + n2 - 1]! + 11) < b) b = v;
      d[p] = b;
    }
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = (y + 2) * W + 2;
    for (let x = 0; x < w; x++) out[y * w + x] = d[row + x]! / 5;
  }
  return out;
}

/** Grows the mask by a disk of `radius` pixels. */
export function dilate(mask: Mask, radius: number): Mask {
  if (radius <= 0) return { ...mask, data: new Uint8Array(mask.data) };
  // Only pixels within `radius` of the mask can change: the transform runs on that window alone.
  return windowed(mask, Math.ceil(radius) + 3, (part) => {
    const d = distanceTo(part, 1);
    const out = createMask(part.width, part.height);
    for (let i = 0; i < d.length; i++) out.data[i] = d[i]! <= radius ? 1 : 0;
    return out;
  });
}

/** Shrinks the mask by a disk of `radius` pixels (the image border counts as inside). */
export function erode(mask: Mask, radius: number): Mask {
  if (radius <= 0) return { ...mask, data: new Uint8Array(mask.data) };
  // A two-pixel ring of background around the mask holds its nearest background pixel (no chamfer
  // step is longer than two), so the window around the mask gives the whole image's answer.
  return windowed(mask, 2, (part) => {
    const d = distanceTo(part, 0);
    const out = createMask(part.width, part.height);
    for (let i = 0; i < d.length; i++) out.data[i] = d[i]! > radius ? 1 : 0;
    return out;
  });
}

/**
 * `op` applied to the mask's bounding box grown by `margin` (clipped to the image), the result put
 * back into an empty image: exact for operations whose effect stays within `margin` of the mask.
 */
function windowed(mask: Mask, margin: number, op: (part: Mask) => Mask): Mask {
  const { width: w, height: h } = mask;
  const box = maskBBox(mask);
  if (!box) return op(mask);
  const win = grownBox(box, margin, w, h);
  if (win.width * win.height > 0.8 * w * h) return op(mask);
  return pasteMask(op(cropMask(mask, win)), win, w, h);
}

/** Removes parts thinner than a disk of `radius` (e.g. bridges to touching red cells). */
export function open(mask: Mask, radius: number): Mask {
  return dilate(erode(mask, radius), radius);
}

/** Closes gaps narrower than a disk of `radius`. */
export function close(mask: Mask, radius: number): Mask {
  return erode(dilate(mask, radius), radius);
}
