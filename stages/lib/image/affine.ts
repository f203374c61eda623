// 2-D affine transforms (Keras ImageDataGenerator semantics) and a bilinear warp with a constant fill.
import type { RgbImage } from './raster.js';

/** Row-major [a, b, c, d, e, f]: x' = a·x + b·y + c, y' = d·x + e·y + f. */
export type Affine = [number, number, number, number, number, number];

/** m1 ∘ m2 (apply m2 first). */
export function compose(m1: Affine, m2: Affine): Affine {
  const [a, b, c, d, e, f] = m1;
  const [g, h, i, j, k, l] = m2;
  return [a * g + b * j, a * h + b * k, a * i + b * l + c, d * g + e * j, d * h + e * k, d * i + e * l + f];
}

export function invert(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (Math.abs(det) < 1e-12) throw new Error('affine transform is not invertible');
  return [e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det];
}

export interface AugmentDraw {
  /** Degrees, counter-clockwise. */
  rotation: number;
  /** Shift in pixels. */
  tx: number;
  ty: number;
  /** Shear angle in degrees (Keras `shear_range` is an angle in degrees). */
  shear: number;
  flipH: boolean;
  flipV: boolean;
}

/** Forward transform (source → destination pixel coordinates) about the image centre. */
export function augmentMatrix(draw: AugmentDraw, width: number, height: number): Affine {
  const cx = (width - 1) / 2, cy = (height - 1) / 2;
  const th = (draw.rotation * Math.PI) / 180;
  const sh = (draw.shear * Math.PI) / 180;
  let m: Affine = [1, 0, -cx, 0, 1, -cy];
  if (draw.flipH) m = compose([-1, 0, 0, 0, 1, 0], m);
  if (draw.flipV) m = compose([1, 0, 0, 0, -1, 0], m);
  // Image y points down, so a counter-clockwise rotation on screen uses -θ in these coordinates.
  m = compose([Math.cos(th), Math.sin(th), 0, -Math.sin(th), Math.cos(th), 0], m);
  m = compose([1, -Math.sin(sh), 0, 0, Math.cos(sh), 0], m);
  m = compose([1, 0, cx + draw.tx, 0, 1, cy + draw.ty], m);
  return m;
}

/**
 * Warps `src` by the forward transform `m` into an image of the same size, sampling bilinearly;
 * destination pixels that map outside the source get `fill`.
 */
export function warpAffine(src: RgbImage, m: Affine, fill: [number, number, number] = [255, 255, 255]): RgbImage {
  const { width: w, height: h, data } = src;
  const inv = invert(m);
  const out = new Uint8Array(w * h * 3);
  const sample = (x: number, y: number, c: number) =>
    x < 0 || y < 0 || x >= w || y >= h ? fill[c]! : data[(y * w + x) * 3 + c]!;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = inv[0] * x + inv[1] * y + inv[2];
      const sy = inv[3] * x + inv[4] * y + inv[5];
      const o = (y * w + x) * 3;
      if (sx <= -1 || sy <= -1 || sx >= w || sy >= h) {
        out[o] = fill[0];
        out[o + 1] = fill[1];
        out[o + 2] = fill[2];
        continue;
      }
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      for (let c = 0; c < 3; c++) {
        const v =
          (1 - fx) * (1 - fy) * sample(x0, y0, c) +
          fx * (1 - fy) * sample(x0 + 1, y0, c) +
          (1 - fx) * fy * sample(x0, y0 + 1, c) +
          fx * fy * sample(x0 + 1, y0 + 1, c);
        out[o + c] = Math.round(v);
      }
    }
  }
  return { width: w, height: h, data: out };
}
