// Grey-world white balance over cell pixels: scale each channel so the cell's channel means
// match the reference means (a diagonal colour correction; cheaper and gentler than Reinhard).
import { clampByte } from './color-spaces.js';

/** Per-channel RGB means over the mask; null when the mask is empty. */
export function rgbMeans(rgb: Uint8Array, mask: Uint8Array): [number, number, number] | null {
  const s = [0, 0, 0];
  let n = 0;
  for (let i = 0, p = 0; i < mask.length; i++, p += 3) {
    if (!mask[i]) continue;
    s[0]! += rgb[p]!;
    s[1]! += rgb[p + 1]!;
    s[2]! += rgb[p + 2]!;
    n++;
  }
  return n === 0 ? null : [s[0]! / n, s[1]! / n, s[2]! / n];
}

export function greyWorldNormalize(
  rgb: Uint8Array,
  mask: Uint8Array,
  referenceMeans: readonly [number, number, number],
): Uint8Array {
  const out = new Uint8Array(rgb.length).fill(255);
  const means = rgbMeans(rgb, mask);
  if (!means) return out;
  const gain = means.map((m, c) => (m > 1e-6 ? referenceMeans[c]! / m : 1));
  for (let i = 0, p = 0; i < mask.length; i++, p += 3) {
    if (!mask[i]) continue;
    for (let c = 0; c < 3; c++) out[p + c] = clampByte(rgb[p + c]! * gain[c]!);
  }
  return out;
}
