// Prototype (robustness bench only): the canonical cell of an image that is ALREADY a cell cut out onto
// white. cell-representation.ts finds the cell by purple-ness, which drops pale or pink cytoplasm when
// there are no red cells or plasma around to contrast with; here the cell is simply the non-white
// component at the centre. Crop and scale follow the same rule as cell-representation.ts (equivalent
// diameter, margin), so the two can be compared in bench/robustness.ts --white-input-prototype.
import sharp from 'sharp';
import { fillHoles, labelComponents, selectComponents } from '../stages/lib/image/components.js';
import { createMask, maskArea, maskBBox, type RgbImage } from '../stages/lib/image/raster.js';

/** True when (almost) the whole image border is white: the input is already segmented. */
export function hasWhiteBorder(image: RgbImage, threshold = 235, fraction = 0.9): boolean {
  const { width: w, height: h, data } = image;
  let white = 0;
  let total = 0;
  const check = (x: number, y: number) => {
    const p = (y * w + x) * 3;
    total++;
    if (Math.min(data[p]!, data[p + 1]!, data[p + 2]!) >= threshold) white++;
  };
  for (let x = 0; x < w; x++) (check(x, 0), check(x, h - 1));
  for (let y = 1; y < h - 1; y++) (check(0, y), check(w - 1, y));
  return total > 0 && white / total >= fraction;
}

/** Canonical cell of a cell-on-white image, or null when nothing non-white is found. */
export async function canonicalFromWhite(image: RgbImage, size = 128, margin = 0.1, threshold = 235): Promise<RgbImage | null> {
  const { width: w, height: h, data } = image;
  const fg = createMask(w, h);
  for (let i = 0; i < w * h; i++) fg.data[i] = Math.min(data[3 * i]!, data[3 * i + 1]!, data[3 * i + 2]!) < threshold ? 1 : 0;
  const lab = labelComponents(fg);
  if (lab.components.length === 0) return null;
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const largest = Math.max(...lab.components.map((c) => c.area));
  const big = lab.components.filter((c) => c.area >= 0.2 * largest);
  const best = big.reduce((a, b) => (Math.hypot(a.cx - cx, a.cy - cy) <= Math.hypot(b.cx - cx, b.cy - cy) ? a : b));
  const mask = fillHoles(selectComponents(lab, fg, [best.label]));
  const box = maskBBox(mask)!;
  const diameter = 2 * Math.sqrt(maskArea(mask) / Math.PI);
  const side = Math.round(Math.max(diameter / (1 - 2 * margin), Math.max(box.width, box.height) / (1 - margin), 4));
  const x0 = Math.round(box.x + box.width / 2 - side / 2);
  const y0 = Math.round(box.y + box.height / 2 - side / 2);
  const crop = new Uint8Array(side * side * 3).fill(255);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const sx = x0 + x;
      const sy = y0 + y;
      if (sx < 0 || sy < 0 || sx >= w || sy >= h || !mask.data[sy * w + sx]) continue;
      crop.set(data.subarray((sy * w + sx) * 3, (sy * w + sx) * 3 + 3), (y * side + x) * 3);
    }
  }
  const out = await sharp(crop, { raw: { width: side, height: side, channels: 3 } })
    .resize(size, size, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return { width: size, height: size, data: new Uint8Array(out) };
}
