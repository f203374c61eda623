// Colour-space conversions used by stain normalisation and photometric augmentation.
// All work on single pixels or interleaved RGB buffers (Uint8Array, 3 channels, row-major).

/** sRGB 0..255 → linear 0..1. */
function srgbToLinear(v: number): number {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** Linear 0..1 → sRGB 0..255 (unclamped). */
function linearToSrgb(c: number): number {
  const v = c <= 0.0031308 ? 12.92 * c : 1.055 * Math.max(c, 0) ** (1 / 2.4) - 0.055;
  return v * 255;
}

// D65 reference white.
const XN = 0.95047;
const YN = 1.0;
const ZN = 1.08883;
const EPS = 216 / 24389;
const KAPPA = 24389 / 27;

function labF(t: number): number {
  return t > EPS ? Math.cbrt(t) : (KAPPA * t + 16) / 116;
}
function labFInv(f: number): number {
  const f3 = f * f * f;
  return f3 > EPS ? f3 : (116 * f - 16) / KAPPA;
}

/** sRGB (0..255) → CIELAB (L 0..100). Writes into `out` at `o`. */
export function rgbToLab(r: number, g: number, b: number, out: Float32Array | Float64Array, o: number): void {
  const rl = srgbToLinear(r);
  const gl = srgbToLinear(g);
  const bl = srgbToLinear(b);
  const x = (0.4124564 * rl + 0.3575761 * gl + 0.1804375 * bl) / XN;
  const y = (0.2126729 * rl + 0.7151522 * gl + 0.072175 * bl) / YN;
  const z = (0.0193339 * rl + 0.119192 * gl + 0.9503041 * bl) / ZN;
  const fx = labF(x);
  const fy = labF(y);
  const fz = labF(z);
  out[o] = 116 * fy - 16;
  out[o + 1] = 500 * (fx - fy);
  out[o + 2] = 200 * (fy - fz);
}

/** CIELAB → sRGB 0..255, clamped and rounded, written into `out` at `o`. */
export function labToRgb(L: number, a: number, bb: number, out: Uint8Array, o: number): void {
  const fy = (L + 16) / 116;
  const fx = fy + a / 500;
  const fz = fy - bb / 200;
  const x = labFInv(fx) * XN;
  const y = labFInv(fy) * YN;
  const z = labFInv(fz) * ZN;
  const rl = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z;
  const gl = -0.969266 * x + 1.8760108 * y + 0.041556 * z;
  const bl = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z;
  out[o] = clampByte(linearToSrgb(rl));
  out[o + 1] = clampByte(linearToSrgb(gl));
  out[o + 2] = clampByte(linearToSrgb(bl));
}

export function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Background light intensity for optical density (Beer–Lambert): a pixel of 255 has OD 0. */
export const OD_I0 = 255;

/** Optical density of one channel value; +1 keeps black finite. */
export function toOd(v: number): number {
  return -Math.log((v + 1) / (OD_I0 + 1));
}

/** Channel value from optical density (inverse of `toOd`), clamped and rounded. */
export function fromOd(od: number): number {
  return clampByte((OD_I0 + 1) * Math.exp(-od) - 1);
}

/**
 * Ruifrok & Johnston haematoxylin / eosin / DAB stain vectors (rows, unit OD per stain in R,G,B).
 * Wright–Giemsa blood smears are not H&E, but the H and E directions still span the
 * blue-purple (nuclear) and pink (cytoplasm, red cells) colour variation between labs.
 */
export const HED_FROM_RGB_OD: readonly (readonly [number, number, number])[] = (() => {
  const rows: [number, number, number][] = [
    [0.65, 0.7, 0.29],
    [0.07, 0.99, 0.11],
    [0.27, 0.57, 0.78],
  ];
  return rows.map((r) => {
    const n = Math.hypot(r[0], r[1], r[2]);
    return [r[0] / n, r[1] / n, r[2] / n] as [number, number, number];
  });
})();

/** Inverts a 3×3 matrix given as rows. Throws on a singular matrix. */
export function invert3(m: readonly (readonly number[])[]): [number, number, number][] {
  const a = (i: number, j: number) => m[i]![j]!;
  const det =
    a(0, 0) * (a(1, 1) * a(2, 2) - a(1, 2) * a(2, 1)) -
    a(0, 1) * (a(1, 0) * a(2, 2) - a(1, 2) * a(2, 0)) +
    a(0, 2) * (a(1, 0) * a(2, 1) - a(1, 1) * a(2, 0));
  if (Math.abs(det) < 1e-12) throw new Error('singular 3x3 matrix');
  const inv: [number, number, number][] = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      // Cofactor of (j, i) over det gives the inverse's (i, j).
      const r = [0, 1, 2].filter((k) => k !== j);
      const c = [0, 1, 2].filter((k) => k !== i);
      const minor = a(r[0]!, c[0]!) * a(r[1]!, c[1]!) - a(r[0]!, c[1]!) * a(r[1]!, c[0]!);
      inv[i]![j] = (((i + j) % 2 === 0 ? 1 : -1) * minor) / det;
    }
  }
  return inv;
}
