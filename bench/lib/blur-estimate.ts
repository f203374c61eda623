// No-reference estimate of how blurred a cell is, as the σ (px) of the Gaussian that would explain its
// strongest edges (after Hu & de Haan, 2006: re-blur with a known σr; at an edge the gradient falls from
// 1/σ to 1/√(σ² + σr²), so σ = σr / √(R² − 1) with R the ratio of the two gradients). Only edges well
// inside the cell count: the cut-out's edge against white is the segmentation's, not the optics'.
// On a synthetic disc edge blurred by a known σ it reads about 0.4 px high (1 → 1.28, 2 → 2.43, 3 → 3.43):
// it is for comparing labs, not for absolute figures.
import { gaussianBlurRgb } from '../../stages/lib/image/gaussian-blur.js';
import { erode } from '../../stages/lib/image/morphology.js';
import { cellMask } from '../../stages/lib/stain/cell-mask.js';

const luma = (rgb: Uint8Array, i: number) => 0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!;

export function estimateBlurSigma(rgb: Uint8Array, width: number, height: number, opts: { white?: number; inset?: number; reblur?: number; top?: number } = {}): number | null {
  const white = opts.white ?? 245, inset = opts.inset ?? 4, reblur = opts.reblur ?? 1, top = opts.top ?? 0.1;
  const mask = erode({ width, height, data: cellMask(rgb, width, height, white) }, inset).data;
  const blurred = gaussianBlurRgb(rgb, width, height, reblur);
  const grad = (img: Uint8Array, i: number) => {
    const gx = luma(img, i + 1) - luma(img, i - 1), gy = luma(img, i + width) - luma(img, i - width);
    return Math.hypot(gx, gy) / 2;
  };
  const pairs: [number, number][] = [];
  for (let y = 1; y < height - 1; y++) for (let x = 1; x < width - 1; x++) {
    const i = y * width + x;
    if (mask[i]) pairs.push([grad(rgb, i), grad(blurred, i)]);
  }
  if (pairs.length < 50) return null;
  pairs.sort((a, b) => b[0] - a[0]);
  const strong = pairs.slice(0, Math.max(10, Math.floor(pairs.length * top)));
  const sigmas = strong.filter(([g0, g1]) => g1 > 0 && g0 > g1).map(([g0, g1]) => reblur / Math.sqrt((g0 / g1) ** 2 - 1));
  if (!sigmas.length) return null;
  sigmas.sort((a, b) => a - b);
  return sigmas[Math.floor(sigmas.length / 2)]!;
}
