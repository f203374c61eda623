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
  const both = gaussianBlurRgbFloat(new Float64Array(rgb), width, height, sigma);
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(both[i]!);
  return out;
}

/** The same blur of an interleaved three-channel float plane (width×height×3), unrounded. Returns a new buffer. */
export function gaussianBlurRgbFloat(src: Float64Array, width: number, height: number, sigma: number): Float64Array {
  const kernel = gaussianKernel(sigma);
  const rows = new Float64Array(src.length);
  convolve(src, rows, kernel, height, width, width, 1);
  const both = new Float64Array(src.length);
  convolve(rows, both, kernel, width, height, 1, width);
  return both;
}

/**
 * One 1-D pass of `kernel` per channel along `lines` lines of `length` pixels, edges replicated: pixel i of
 * line l is at l·lineStep + i·pixelStep (rows: step 1 along a line of width; columns: step width).
 */
function convolve(src: Float64Array, out: Float64Array, kernel: Float64Array, lines: number, length: number, lineStep: number, pixelStep: number): void {
  const radius = (kernel.length - 1) / 2;
  for (let l = 0; l < lines; l++) {
    for (let i = 0; i < length; i++) {
      let r = 0, g = 0, b = 0;
      for (let k = -radius; k <= radius; k++) {
        const p = (l * lineStep + clamp(i + k, length - 1) * pixelStep) * 3;
        const w = kernel[k + radius]!;
        r += w * src[p]!;
        g += w * src[p + 1]!;
        b += w * src[p + 2]!;
      }
      const q = (l * lineStep + i * pixelStep) * 3;
      out[q] = r;
      out[q + 1] = g;
      out[q + 2] = b;
    }
  }
}

function clamp(v: number, hi: number): number {
  return v < 0 ? 0 : v > hi ? hi : v;
}
