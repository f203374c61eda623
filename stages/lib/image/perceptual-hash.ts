// Perceptual hash (pHash: low-frequency DCT signs of a 32×32 grey thumbnail) for near-duplicate
// detection; robust to re-encoding, resizing and small brightness changes.
import sharp from 'sharp';
import type { Sharp } from 'sharp';

/** 64-bit hash as 16 hex characters. */
export async function perceptualHash(input: Buffer | Sharp): Promise<string> {
  const img = Buffer.isBuffer(input) ? sharp(input) : input;
  const { data } = await img
    .flatten({ background: '#ffffff' })
    .greyscale()
    .resize(32, 32, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return phashFromGrey32(data);
}

const N = 32;
const COS = (() => {
  const c = new Float64Array(8 * N);
  for (let u = 0; u < 8; u++) for (let x = 0; x < N; x++) c[u * N + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * N));
  return c;
})();

/** pHash of a 32×32 8-bit grey raster. */
export function phashFromGrey32(grey: Uint8Array): string {
  // Separable DCT, keeping only the 8×8 lowest frequencies.
  const rows = new Float64Array(N * 8);
  for (let y = 0; y < N; y++) {
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let x = 0; x < N; x++) s += grey[y * N + x]! * COS[u * N + x]!;
      rows[y * 8 + u] = s;
    }
  }
  const coef = new Float64Array(64);
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += rows[y * 8 + u]! * COS[v * N + y]!;
      coef[v * 8 + u] = s;
    }
  }
  // Median of the 63 AC coefficients (the DC term only carries mean brightness).
  const ac = Array.from(coef.subarray(1)).sort((a, b) => a - b);
  const median = ac[31]!;
  let hex = '';
  for (let nib = 0; nib < 16; nib++) {
    let v = 0;
    for (let b = 0; b < 4; b++) {
      const i = nib * 4 + b;
      v = (v << 1) | (i > 0 && coef[i]! > median ? 1 : 0);
    }
    hex += v.toString(16);
  }
  return hex;
}

/** Number of differing bits between two 16-hex-digit hashes. */
export function hammingDistance(a: string, b: string): number {
  let d = 0;
  for (let i = 0; i < a.length; i += 8) {
    let x = (parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16)) >>> 0;
    while (x) {
      x &= x - 1;
      d++;
    }
  }
  return d;
}
