// Macenko et al. (2009) stain normalisation over cell pixels: find the two dominant stain directions
// in optical-density space from the plane of the OD's top two eigenvectors, express every pixel as
// concentrations of those two stains, rescale the concentrations to the reference's robust maxima and
// rebuild the pixel with the reference's stain vectors.
import { fromOd, toOd } from './color-spaces.js';

export type Vec3 = [number, number, number];

export interface StainBasis {
  /** Two unit OD vectors (R,G,B): first the nuclear (blue-purple) stain, then the pink/eosinophilic one. */
  stains: [Vec3, Vec3];
  /** 99th-percentile concentration of each stain over cell pixels. */
  maxConcentrations: [number, number];
}

export interface MacenkoOptions {
  /** Pixels whose OD is below this in any channel are nearly transparent and ignored when fitting. */
  odThreshold?: number;
  /** Percentile (0..100) of the angle distribution taken as each extreme stain direction. */
  alpha?: number;
}

/** Symmetric 3×3 eigen-decomposition by Jacobi rotations; eigenvectors are the columns of `vectors`. */
export function symmetricEigen3(m: number[][]): { values: number[]; vectors: number[][] } {
  const a = m.map((r) => [...r]);
  const v = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = a[0]![1]! ** 2 + a[0]![2]! ** 2 + a[1]![2]! ** 2;
    if (off < 1e-20) break;
    for (let p = 0; p < 2; p++) {
      for (let q = p + 1; q < 3; q++) {
        const apq = a[p]![q]!;
        if (Math.abs(apq) < 1e-30) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < 3; k++) {
          const akp = a[k]![p]!;
          const akq = a[k]![q]!;
          a[k]![p] = c * akp - s * akq;
          a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < 3; k++) {
          const apk = a[p]![k]!;
          const aqk = a[q]![k]!;
          a[p]![k] = c * apk - s * aqk;
          a[q]![k] = s * apk + c * aqk;
        }
        for (let k = 0; k < 3; k++) {
          const vkp = v[k]![p]!;
          const vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: [a[0]![0]!, a[1]![1]!, a[2]![2]!], vectors: v };
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, (q / 100) * (sorted.length - 1)));
  const lo = Math.floor(idx);
  const hi = Math.ceil(idx);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (idx - lo);
}

function unit(v: Vec3): Vec3 {
  const n = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
}

/** Solves c1·s1 + c2·s2 ≈ od in least squares (2×2 normal equations). */
function concentrations(od: Vec3, s1: Vec3, s2: Vec3, out: Float64Array, o: number): void {
  const a11 = s1[0] * s1[0] + s1[1] * s1[1] + s1[2] * s1[2];
  const a12 = s1[0] * s2[0] + s1[1] * s2[1] + s1[2] * s2[2];
  const a22 = s2[0] * s2[0] + s2[1] * s2[1] + s2[2] * s2[2];
  const b1 = s1[0] * od[0] + s1[1] * od[1] + s1[2] * od[2];
  const b2 = s2[0] * od[0] + s2[1] * od[1] + s2[2] * od[2];
  const det = a11 * a22 - a12 * a12;
  if (Math.abs(det) < 1e-12) {
    out[o] = b1 / (a11 || 1);
    out[o + 1] = 0;
    return;
  }
  out[o] = (a22 * b1 - a12 * b2) / det;
  out[o + 1] = (a11 * b2 - a12 * b1) / det;
}

/**
 * Estimates the two stain vectors and their robust maximum concentrations over the mask.
 * Returns null when too few stained pixels remain to fit a plane (e.g. an almost white image).
 */
export function estimateStainBasis(rgb: Uint8Array, mask: Uint8Array, options: MacenkoOptions = {}): StainBasis | null {
  const beta = options.odThreshold ?? 0.15;
  const alpha = options.alpha ?? 1;
  const ods: number[] = [];
  for (let i = 0, p = 0; i < mask.length; i++, p += 3) {
    if (!mask[i]) continue;
    const r = toOd(rgb[p]!);
    const g = toOd(rgb[p + 1]!);
    const b = toOd(rgb[p + 2]!);
    if (r < beta || g < beta || b < beta) continue;
    ods.push(r, g, b);
  }
  const n = ods.length / 3;
  if (n < 10) return null;
  const mean = [0, 0, 0];
  for (let i = 0; i < ods.length; i += 3) for (let c = 0; c < 3; c++) mean[c]! += ods[i + c]!;
  for (let c = 0; c < 3; c++) mean[c]! /= n;
  const cov = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < ods.length; i += 3) {
    for (let r = 0; r < 3; r++) {
      for (let c = r; c < 3; c++) cov[r]![c]! += (ods[i + r]! - mean[r]!) * (ods[i + c]! - mean[c]!);
    }
  }
  for (let r = 0; r < 3; r++) for (let c = 0; c < r; c++) cov[r]![c] = cov[c]![r]!;
  const { values, vectors } = symmetricEigen3(cov);
  const order = [0, 1, 2].sort((x, y) => values[y]! - values[x]!);
  const col = (k: number): Vec3 => [vectors[0]![k]!, vectors[1]![k]!, vectors[2]![k]!];
  let e1 = col(order[0]!);
  let e2 = col(order[1]!);
  // Point both eigenvectors into positive OD so the angles are comparable between images.
  if (e1[0] + e1[1] + e1[2] < 0) e1 = [-e1[0], -e1[1], -e1[2]];
  if (e2[0] + e2[1] + e2[2] < 0) e2 = [-e2[0], -e2[1], -e2[2]];
  const angles = new Float64Array(n);
  for (let i = 0, k = 0; i < ods.length; i += 3, k++) {
    const x = ods[i]! * e1[0] + ods[i + 1]! * e1[1] + ods[i + 2]! * e1[2];
    const y = ods[i]! * e2[0] + ods[i + 1]! * e2[1] + ods[i + 2]! * e2[2];
    angles[k] = Math.atan2(y, x);
  }
  angles.sort();
  const lo = percentile(angles, alpha);
  const hi = percentile(angles, 100 - alpha);
  const dir = (phi: number): Vec3 =>
    unit([
      e1[0] * Math.cos(phi) + e2[0] * Math.sin(phi),
      e1[1] * Math.cos(phi) + e2[1] * Math.sin(phi),
      e1[2] * Math.cos(phi) + e2[2] * Math.sin(phi),
    ]);
  let s1 = dir(lo);
  let s2 = dir(hi);
  // The nuclear (purple/blue) stain absorbs red most relative to green; the pink one absorbs green.
  if (s1[0] / (s1[1] || 1e-9) < s2[0] / (s2[1] || 1e-9)) [s1, s2] = [s2, s1];
  const c = new Float64Array(2 * n);
  for (let i = 0, k = 0; i < ods.length; i += 3, k += 2) {
    concentrations([ods[i]!, ods[i + 1]!, ods[i + 2]!], s1, s2, c, k);
  }
  const c1 = new Float64Array(n);
  const c2 = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    c1[k] = c[2 * k]!;
    c2[k] = c[2 * k + 1]!;
  }
  c1.sort();
  c2.sort();
  return { stains: [s1, s2], maxConcentrations: [percentile(c1, 99), percentile(c2, 99)] };
}

/**
 * Re-renders the cell pixels with the reference stains. When the image's own basis cannot be
 * estimated the input is returned unchanged (background still forced to white).
 */
export function macenkoNormalize(
  rgb: Uint8Array,
  mask: Uint8Array,
  reference: StainBasis,
  options: MacenkoOptions = {},
): Uint8Array {
  const out = new Uint8Array(rgb.length).fill(255);
  const basis = estimateStainBasis(rgb, mask, options);
  if (!basis) {
    for (let i = 0, p = 0; i < mask.length; i++, p += 3) {
      if (mask[i]) out.set(rgb.subarray(p, p + 3), p);
    }
    return out;
  }
  const [s1, s2] = basis.stains;
  const [r1, r2] = reference.stains;
  const k1 = basis.maxConcentrations[0] > 1e-6 ? reference.maxConcentrations[0] / basis.maxConcentrations[0] : 1;
  const k2 = basis.maxConcentrations[1] > 1e-6 ? reference.maxConcentrations[1] / basis.maxConcentrations[1] : 1;
  const c = new Float64Array(2);
  for (let i = 0, p = 0; i < mask.length; i++, p += 3) {
    if (!mask[i]) continue;
    concentrations([toOd(rgb[p]!), toOd(rgb[p + 1]!), toOd(rgb[p + 2]!)], s1, s2, c, 0);
    const a = Math.max(0, c[0]!) * k1;
    const b = Math.max(0, c[1]!) * k2;
    for (let ch = 0; ch < 3; ch++) out[p + ch] = fromOd(a * r1[ch]! + b * r2[ch]!);
  }
  return out;
}
