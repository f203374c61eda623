// Simulations: recipes that turn a lab's original into an image that looks as if another lab had produced it:
// other stain, other magnification, other optics/compression, or the cell already cut out onto white
// and tightly cropped. Used by the `shifted` stage (held-out test sets) and by bench/robustness.ts.
// Every recipe is deterministic for its seed.
import { findCell } from '../cell/cell-representation.js';
import { erode, dilate } from '../image/morphology.js';
import { maskBBox, type Mask, type RgbImage } from '../image/raster.js';
import {
  colourShift,
  drawColourShift,
  drawHedShift,
  gammaAdjust,
  gaussianBlur,
  hedShift,
  jpegRoundTrip,
  resize,
} from './photometric.js';
import { mulberry32, uniform, type Random } from '../random.js';

export const FOREIGN_SOURCES = ['stain-shift', 'scale-shift', 'white-tight', 'blur-jpeg'] as const;
export type ForeignSource = (typeof FOREIGN_SOURCES)[number];

export const FOREIGN_SOURCE_DESCRIPTIONS: Record<ForeignSource, string> = {
  'stain-shift':
    'Whole original (red cells and plasma kept) re-stained in HED optical-density space (per-stain scale U(0.6,1.4), bias U(-0.12,0.12)) plus a colour shift (hue ±12°, saturation ±30%, channel gain ±10%, gamma 0.7–1.4).',
  'scale-shift': 'Whole original rescaled by a log-uniform factor in [0.6, 1.5] (image size changes with it).',
  'white-tight':
    'The leukocyte cut out onto pure white with its mask (edge moved by -2..+2 px), tightly cropped (2–8 px white border), rescaled so the cell is 0.55–1.6× its original size, re-stained (HED scale U(0.7,1.3), bias ±0.08, hue ±8°, saturation ±20%) and stored at JPEG quality 75–95.',
  'blur-jpeg': 'Whole original blurred (Gaussian sigma 1.0–2.5 px) and stored at JPEG quality 15–40.',
};

export interface ForeignResult {
  image: RgbImage;
  /** The numbers drawn for this image, recorded in sets.json. */
  draw: Record<string, number | number[]>;
}

function round(v: number, k = 3): number {
  const f = 10 ** k;
  return Math.round(v * f) / f;
}

function restain(img: RgbImage, rng: Random, strength: 'strong' | 'moderate', keepWhite: boolean): { image: RgbImage; draw: Record<string, number | number[]> } {
  const strong = strength === 'strong';
  const hed = drawHedShift(rng, strong ? 0.4 : 0.3, strong ? 0.12 : 0.08);
  const col = drawColourShift(rng, strong ? { hue: 12, saturation: 0.3, channelGain: 0.1 } : { hue: 8, saturation: 0.2, channelGain: 0.06 });
  const gamma = strong ? Math.exp(uniform(rng, Math.log(0.7), Math.log(1.4))) : 1;
  let data = hedShift(img.data, img.width, img.height, hed, keepWhite);
  data = colourShift(data, img.width, img.height, col, keepWhite);
  if (gamma !== 1) data = gammaAdjust(data, gamma);
  return {
    image: { width: img.width, height: img.height, data },
    draw: {
      hedScale: hed.scale.map((v) => round(v)),
      hedBias: hed.bias.map((v) => round(v)),
      hue: round(col.hue, 2),
      saturation: round(col.saturation),
      channelGain: col.channelGain.map((v) => round(v)),
      gamma: round(gamma),
    },
  };
}

/** Cuts the cell out of `img` with `mask` onto white, cropped to the mask's box plus `pad` pixels. */
export function cutOutTight(img: RgbImage, mask: Mask, pad: number): RgbImage | null {
  const box = maskBBox(mask);
  if (!box) return null;
  const x0 = box.x - pad;
  const y0 = box.y - pad;
  const w = box.width + 2 * pad;
  const h = box.height + 2 * pad;
  const data = new Uint8Array(w * h * 3).fill(255);
  for (let y = 0; y < h; y++) {
    const sy = y0 + y;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < w; x++) {
      const sx = x0 + x;
      if (sx < 0 || sx >= img.width || !mask.data[sy * img.width + sx]) continue;
      const s = (sy * img.width + sx) * 3;
      data.set(img.data.subarray(s, s + 3), (y * w + x) * 3);
    }
  }
  return { width: w, height: h, data };
}

/**
 * Makes the foreign-looking version of one original. Returns null when the recipe needs the cell and
 * the segmenter finds none in this original (the caller records it as skipped).
 */
export async function makeForeignImage(source: ForeignSource, original: RgbImage, seed: number): Promise<ForeignResult | null> {
  const rng = mulberry32(seed);
  switch (source) {
    case 'stain-shift': {
      const r = restain(original, rng, 'strong', false);
      return { image: r.image, draw: r.draw };
    }
    case 'scale-shift': {
      const f = Math.exp(uniform(rng, Math.log(0.6), Math.log(1.5)));
      const w = Math.max(16, Math.round(original.width * f));
      const h = Math.max(16, Math.round(original.height * f));
      return { image: { width: w, height: h, data: resize(original.data, original.width, original.height, w, h) }, draw: { scale: round(f) } };
    }
    case 'blur-jpeg': {
      const sigma = uniform(rng, 1.0, 2.5);
      const q = Math.round(uniform(rng, 15, 40));
      const blurred = gaussianBlur(original.data, original.width, original.height, sigma);
      const data = await jpegRoundTrip(blurred, original.width, original.height, q);
      return { image: { width: original.width, height: original.height, data }, draw: { sigma: round(sigma), quality: q } };
    }
    case 'white-tight': {
      const edge = Math.round(uniform(rng, -2, 2));
      const pad = Math.round(uniform(rng, 2, 8));
      const f = Math.exp(uniform(rng, Math.log(0.55), Math.log(1.6)));
      const q = Math.round(uniform(rng, 75, 95));
      const found = findCell(original);
      if (!found.ok) return null;
      const mask = edge > 0 ? dilate(found.cell, edge) : edge < 0 ? erode(found.cell, -edge) : found.cell;
      const tight = cutOutTight(original, mask, pad);
      if (!tight) return null;
      const stained = restain(tight, rng, 'moderate', true);
      const w = Math.max(16, Math.round(tight.width * f));
      const h = Math.max(16, Math.round(tight.height * f));
      const scaled = resize(stained.image.data, tight.width, tight.height, w, h);
      const data = await jpegRoundTrip(scaled, w, h, q);
      return { image: { width: w, height: h, data }, draw: { ...stained.draw, edge, pad, scale: round(f), quality: q } };
    }
  }
}
