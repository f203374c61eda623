// Gaussian low-pass of an interleaved RGB image. The normalisation uses it to bring every lab's cells to
// one optical resolution: a sharp CellaVision image and a soft-focus smear photo differ most in the fine
// detail a network learns first, and blurring both leaves the shapes they share.

/** Normalised 1-D Gaussian weights for σ (pixels), radius ⌈3σ⌉. */
export function gaussianKernel(sigma: number): Float64Array {
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new Error(`blur sigma must be a positive number, got ${sigma}`);
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let k = -radius; k <= radius; k++) sum += kernel[k + radius] = Math.exp(-(k * k) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i]! /= sum;
  return kernel;
}

/**
 * Separable Gaussian blur of `rgb` (width×height×3), edges replicated, rounded back to bytes. Returns a
 * new buffer.
 */
export function gaussianBlurRgb(rgb: Uint8Array, width: number, height: number, sigma: number): Uint8Array {
  const kernel = gaussianKernel(sigma);
  const radius = (kernel.length - 1) / 2;
  const tmp = new Float64Array(rgb.length);
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let k = -radius; k <= radius; k++) {
        const p = (y * width + clamp(x + k, width - 1)) * 3;
        const w = kernel[k + radius]!;
        r += w * rgb[p]!;
        g += w * rgb[p + 1]!;
        b += w * rgb[p + 2]!;
      }
      const q = (y * width + x) * 3;
      tmp[q] = r;
      tmp[q + 1] = g;
      tmp[q + 2] = b;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let k = -radius; k <= radius; k++) {
        const p = (clamp(y + k, height - 1) * width + x) * 3;
        const w = kernel[k + radius]!;
        r += w * tmp[p]!;
        g += w * tmp[p + 1]!;
        b += w * tmp[p + 2]!;
      }
      const q = (y * width + x) * 3;
      out[q] = Math.round(r);
      out[q + 1] = Math.round(g);
      out[q + 2] = Math.round(b);
    }
  }
  return out;
}

function clamp(v: number, hi: number): number {
  return v < 0 ? 0 : v > hi ? hi : v;
}
