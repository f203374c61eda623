// Reinhard et al. (2001) colour transfer, in CIELAB, over cell pixels only: each channel's mean and
// standard deviation over the cell is mapped to the reference's.
import { labToRgb, rgbToLab } from './color-spaces.js';

export interface LabStats {
  /** L, a, b means over cell pixels. */
  mean: [number, number, number];
  /** L, a, b standard deviations over cell pixels. */
  std: [number, number, number];
}

/** LAB mean and std over pixels where mask is 1; null when the mask is empty. */
export function labStats(rgb: Uint8Array, mask: Uint8Array): LabStats | null {
  const lab = new Float64Array(3);
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  let n = 0;
  for (let i = 0, p = 0; i < mask.length; i++, p += 3) {
    if (!mask[i]) continue;
    rgbToLab(rgb[p]!, rgb[p + 1]!, rgb[p + 2]!, lab, 0);
    for (let c = 0; c < 3; c++) {
      sum[c]! += lab[c]!;
      sq[c]! += lab[c]! * lab[c]!;
    }
    n++;
  }
  if (n === 0) return null;
  const mean = sum.map((s) => s / n) as [number, number, number];
  const std = sq.map((s, c) => Math.sqrt(Math.max(0, s / n - mean[c]! ** 2))) as [number, number, number];
  return { mean, std };
}

/**
 * Maps the cell pixels' LAB statistics onto `reference`; background pixels become pure white. `maxGain`
 * caps how far a channel's spread is stretched: a pale smear's colour channels have a small spread, and
 * stretching it to the reference's turns its noise and its lens's colour fringes into stain.
 */
export function reinhardNormalize(rgb: Uint8Array, mask: Uint8Array, reference: LabStats, maxGain = Infinity): Uint8Array {
  const out = new Uint8Array(rgb.length).fill(255);
  const stats = labStats(rgb, mask);
  if (!stats) return out;
  // A flat channel (std≈0) keeps its spread instead of being blown up.
  const gain = stats.std.map((s, c) => (s > 1e-6 ? Math.min(maxGain, reference.std[c]! / s) : 1));
  const lab = new Float64Array(3);
  for (let i = 0, p = 0; i < mask.length; i++, p += 3) {
    if (!mask[i]) continue;
    rgbToLab(rgb[p]!, rgb[p + 1]!, rgb[p + 2]!, lab, 0);
    const L = (lab[0]! - stats.mean[0]) * gain[0]! + reference.mean[0];
    const a = (lab[1]! - stats.mean[1]) * gain[1]! + reference.mean[1];
    const b = (lab[2]! - stats.mean[2]) * gain[2]! + reference.mean[2];
    labToRgb(L, a, b, out, p);
  }
  return out;
}
