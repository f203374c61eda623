// Small per-pixel filters on single-channel 8-bit rasters.

/** Box mean of radius r (window (2r+1)²), separable, with edge clamping. */
export function boxBlur(src: Uint8Array, width: number, height: number, r: number): Uint8Array {
  if (r <= 0) return new Uint8Array(src);
  const tmp = new Float32Array(width * height);
  const out = new Uint8Array(width * height);
  const n = 2 * r + 1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let s = 0;
    for (let k = -r; k <= r; k++) s += src[row + clamp(k, 0, width - 1)]!;
    for (let x = 0; x < width; x++) {
      tmp[row + x] = s / n;
      s += src[row + clamp(x + r + 1, 0, width - 1)]! - src[row + clamp(x - r, 0, width - 1)]!;
    }
  }
  for (let x = 0; x < width; x++) {
    let s = 0;
    for (let k = -r; k <= r; k++) s += tmp[clamp(k, 0, height - 1) * width + x]!;
    for (let y = 0; y < height; y++) {
      out[y * width + x] = Math.round(s / n);
      s += tmp[clamp(y + r + 1, 0, height - 1) * width + x]! - tmp[clamp(y - r, 0, height - 1) * width + x]!;
    }
  }
  return out;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
