// Photometric and acquisition augmentations spanning what other labs produce: stain and colour
// changes (HED / optical-density space, brightness, contrast, saturation, hue, gamma), optics (blur),
// magnification (scale) and compression (JPEG). Pure functions over interleaved RGB buffers
// (Uint8Array, width×height×3); randomness only through an explicit seeded generator, so the same seed
// gives the same bytes. `applyPhotometric` is the single call the augment stage makes.
import sharp from 'sharp';
import { assertRgb, cellMask, DEFAULT_WHITE_THRESHOLD } from '../stain/cell-mask.js';
import { clampByte, fromOd, HED_FROM_RGB_OD, invert3, toOd } from '../stain/color-spaces.js';

import { mulberry32, uniform, type Random } from '../random.js';
import { gaussianBlurRgbFloat } from '../image/gaussian-blur.js';
import { applyStainTemplate, drawStainTemplate, randomTemplateParamsSchema, type RandomTemplateParams } from '../stain/random-stain-template.js';


export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

// Pixels that were background keep being pure white after a colour op, so cells on white stay on white.
function keepWhite(src: Uint8Array, out: Uint8Array, width: number, height: number, whiteThreshold: number): void {
  const mask = cellMask(src, width, height, whiteThreshold);
  for (let i = 0, p = 0; i < mask.length; i++, p += 3) {
    if (!mask[i]) out[p] = out[p + 1] = out[p + 2] = 255;
  }
}

export interface HedShift {
  /** Multiplicative factor per stain (haematoxylin, eosin, DAB). */
  scale: [number, number, number];
  /** Additive OD shift per stain. */
  bias: [number, number, number];
}

/** Draws a HED shift like Tellez et al. (2018): scale ~ U(1−σ, 1+σ), bias ~ U(−b, b) per stain. */
export function drawHedShift(rng: Random, sigma: number, bias: number): HedShift {
  return {
    scale: [uniform(rng, 1 - sigma, 1 + sigma), uniform(rng, 1 - sigma, 1 + sigma), uniform(rng, 1 - sigma, 1 + sigma)],
    bias: [uniform(rng, -bias, bias), uniform(rng, -bias, bias), uniform(rng, -bias, bias)],
  };
}

const RGB_OD_FROM_HED = HED_FROM_RGB_OD; // rows: the OD each unit of stain adds
const HED_FROM_RGB = invert3(HED_FROM_RGB_OD); // OD → stain concentrations

/**
 * Re-stains an image: optical density → H, E, D concentrations → scaled and shifted → back to RGB.
 * Deterministic for a given shift. With `keepBackgroundWhite`, near-white pixels stay pure white.
 */
export function hedShift(
  rgb: Uint8Array,
  width: number,
  height: number,
  shift: HedShift,
  keepBackgroundWhite = true,
  whiteThreshold = DEFAULT_WHITE_THRESHOLD,
): Uint8Array {
  assertRgb(rgb, width, height);
  const out = new Uint8Array(rgb.length);
  const conc = [0, 0, 0];
  for (let p = 0; p < rgb.length; p += 3) {
    const od = [toOd(rgb[p]!), toOd(rgb[p + 1]!), toOd(rgb[p + 2]!)];
    for (let s = 0; s < 3; s++) {
      // Concentration s = Σ_c od[c] · inv[c][s]  (od row vector times the inverse of the stain matrix).
      const c = od[0]! * HED_FROM_RGB[0]![s]! + od[1]! * HED_FROM_RGB[1]![s]! + od[2]! * HED_FROM_RGB[2]![s]!;
      conc[s] = c * shift.scale[s]! + shift.bias[s]!;
    }
    for (let ch = 0; ch < 3; ch++) {
      const v = conc[0]! * RGB_OD_FROM_HED[0]![ch]! + conc[1]! * RGB_OD_FROM_HED[1]![ch]! + conc[2]! * RGB_OD_FROM_HED[2]![ch]!;
      out[p + ch] = fromOd(Math.max(0, v));
    }
  }
  if (keepBackgroundWhite) keepWhite(rgb, out, width, height, whiteThreshold);
  return out;
}

export interface ColourShift {
  /** Added to every channel, in 0..255 units. */
  brightness: number;
  /** Contrast factor about the image's mean grey. */
  contrast: number;
  /** Saturation factor (0 = grey). */
  saturation: number;
  /** Hue rotation in degrees. */
  hue: number;
  /** Per-channel gains (white balance / illumination colour). */
  channelGain: [number, number, number];
}

export interface ColourJitterRanges {
  brightness?: number;
  contrast?: number;
  saturation?: number;
  hue?: number;
  channelGain?: number;
}

export function drawColourShift(rng: Random, r: ColourJitterRanges): ColourShift {
  const around = (x: number | undefined) => uniform(rng, 1 - (x ?? 0), 1 + (x ?? 0));
  return {
    brightness: uniform(rng, -(r.brightness ?? 0), r.brightness ?? 0) * 255,
    contrast: around(r.contrast),
    saturation: around(r.saturation),
    hue: uniform(rng, -(r.hue ?? 0), r.hue ?? 0),
    channelGain: [around(r.channelGain), around(r.channelGain), around(r.channelGain)],
  };
}

/** Applies a colour shift (gain, brightness, contrast, saturation, hue) to every pixel. */
export function colourShift(
  rgb: Uint8Array,
  width: number,
  height: number,
  shift: ColourShift,
  keepBackgroundWhite = true,
  whiteThreshold = DEFAULT_WHITE_THRESHOLD,
): Uint8Array {
  assertRgb(rgb, width, height);
  const mask = cellMask(rgb, width, height, whiteThreshold);
  // Contrast pivots on the mean grey of the pixels that change (the cell on a white image).
  let sum = 0;
  let n = 0;
  for (let i = 0, p = 0; i < mask.length; i++, p += 3) {
    if (keepBackgroundWhite && !mask[i]) continue;
    sum += 0.299 * rgb[p]! + 0.587 * rgb[p + 1]! + 0.114 * rgb[p + 2]!;
    n++;
  }
  const meanGrey = n ? sum / n : 128;
  // Hue rotation about the grey axis (Rodrigues rotation in RGB), combined with saturation.
  const th = (shift.hue * Math.PI) / 180;
  const cosA = Math.cos(th);
  const sinA = Math.sin(th);
  const k = 1 / 3;
  const sq = Math.sqrt(k);
  const h00 = cosA + (1 - cosA) * k;
  const h01 = k * (1 - cosA) - sq * sinA;
  const h02 = k * (1 - cosA) + sq * sinA;
  const out = new Uint8Array(rgb.length);
  for (let i = 0, p = 0; i < mask.length; i++, p += 3) {
    if (keepBackgroundWhite && !mask[i]) {
      out[p] = out[p + 1] = out[p + 2] = 255;
      continue;
    }
    let r = rgb[p]! * shift.channelGain[0];
    let g = rgb[p + 1]! * shift.channelGain[1];
    let b = rgb[p + 2]! * shift.channelGain[2];
    // Hue: the matrix is circulant for a rotation about (1,1,1).
    const hr = h00 * r + h01 * g + h02 * b;
    const hg = h02 * r + h00 * g + h01 * b;
    const hb = h01 * r + h02 * g + h00 * b;
    const grey = 0.299 * hr + 0.587 * hg + 0.114 * hb;
    r = grey + (hr - grey) * shift.saturation;
    g = grey + (hg - grey) * shift.saturation;
    b = grey + (hb - grey) * shift.saturation;
    out[p] = clampByte((r - meanGrey) * shift.contrast + meanGrey + shift.brightness);
    out[p + 1] = clampByte((g - meanGrey) * shift.contrast + meanGrey + shift.brightness);
    out[p + 2] = clampByte((b - meanGrey) * shift.contrast + meanGrey + shift.brightness);
  }
  return out;
}

/** out = 255·(in/255)^gamma; white and black are fixed points, so the background stays white. */
export function gammaAdjust(rgb: Uint8Array, gamma: number): Uint8Array {
  if (!(gamma > 0)) throw new Error(`gamma must be > 0, got ${gamma}`);
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = clampByte(255 * (v / 255) ** gamma);
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = lut[rgb[i]!]!;
  return out;
}

/** Separable Gaussian blur with edge clamping; sigma 0 returns a copy. */
export function gaussianBlur(rgb: Uint8Array, width: number, height: number, sigma: number): Uint8Array {
  assertRgb(rgb, width, height);
  if (!(sigma > 0)) return rgb.slice();
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float64Array(2 * radius + 1);
  let ksum = 0;
  for (let i = -radius; i <= radius; i++) ksum += kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i]! /= ksum;
  const tmp = new Float64Array(rgb.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = -radius; k <= radius; k++) {
          const xx = Math.min(width - 1, Math.max(0, x + k));
          s += kernel[k + radius]! * rgb[(y * width + xx) * 3 + c]!;
        }
        tmp[(y * width + x) * 3 + c] = s;
      }
    }
  }
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = -radius; k <= radius; k++) {
          const yy = Math.min(height - 1, Math.max(0, y + k));
          s += kernel[k + radius]! * tmp[(yy * width + x) * 3 + c]!;
        }
        out[(y * width + x) * 3 + c] = clampByte(s);
      }
    }
  }
  return out;
}

/** Bilinear sample of channel c at (x, y) in pixel-centre coordinates, or `fill` outside. */
function sample(rgb: Uint8Array, width: number, height: number, x: number, y: number, c: number, fill: number): number {
  if (x < -0.5 || y < -0.5 || x > width - 0.5 || y > height - 0.5) return fill;
  const xc = Math.min(width - 1, Math.max(0, x));
  const yc = Math.min(height - 1, Math.max(0, y));
  const x0 = Math.floor(xc);
  const y0 = Math.floor(yc);
  const x1 = Math.min(width - 1, x0 + 1);
  const y1 = Math.min(height - 1, y0 + 1);
  const fx = xc - x0;
  const fy = yc - y0;
  const at = (xx: number, yy: number) => rgb[(yy * width + xx) * 3 + c]!;
  return (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
}

/** Resizes to a new size (bilinear; box-averaged first when shrinking by more than 2×). */
export function resize(rgb: Uint8Array, width: number, height: number, newWidth: number, newHeight: number): Uint8Array {
  assertRgb(rgb, width, height);
  let src = rgb;
  let w = width;
  let h = height;
  // Halve with a 2×2 box until within 2× of the target, so shrinking does not alias.
  while (w >= 2 * newWidth && h >= 2 * newHeight) {
    const nw = Math.floor(w / 2);
    const nh = Math.floor(h / 2);
    const half = new Uint8Array(nw * nh * 3);
    for (let y = 0; y < nh; y++) {
      for (let x = 0; x < nw; x++) {
        for (let c = 0; c < 3; c++) {
          const a = src[((2 * y) * w + 2 * x) * 3 + c]! + src[((2 * y) * w + 2 * x + 1) * 3 + c]!;
          const b = src[((2 * y + 1) * w + 2 * x) * 3 + c]! + src[((2 * y + 1) * w + 2 * x + 1) * 3 + c]!;
          half[(y * nw + x) * 3 + c] = Math.round((a + b) / 4);
        }
      }
    }
    src = half;
    w = nw;
    h = nh;
  }
  const out = new Uint8Array(newWidth * newHeight * 3);
  const sx = w / newWidth;
  const sy = h / newHeight;
  for (let y = 0; y < newHeight; y++) {
    for (let x = 0; x < newWidth; x++) {
      for (let c = 0; c < 3; c++) {
        out[(y * newWidth + x) * 3 + c] = clampByte(sample(src, w, h, (x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5, c, 255));
      }
    }
  }
  return out;
}

/**
 * Scales the content about the image centre by `factor`, keeping the canvas size; uncovered area is
 * white (factor < 1 shows more white around the cell, > 1 crops into it).
 */
export function scaleAboutCentre(rgb: Uint8Array, width: number, height: number, factor: number, fill = 255): Uint8Array {
  assertRgb(rgb, width, height);
  if (!(factor > 0)) throw new Error(`scale factor must be > 0, got ${factor}`);
  const out = new Uint8Array(rgb.length).fill(fill);
  if (factor < 1) {
    // Shrink with anti-aliasing, then paste centred on the canvas.
    const sw = Math.max(1, Math.round(width * factor));
    const sh = Math.max(1, Math.round(height * factor));
    const small = resize(rgb, width, height, sw, sh);
    const ox = Math.floor((width - sw) / 2);
    const oy = Math.floor((height - sh) / 2);
    for (let y = 0; y < sh; y++) out.set(small.subarray(y * sw * 3, (y + 1) * sw * 3), ((y + oy) * width + ox) * 3);
    return out;
  }
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = (x - cx) / factor + cx;
      const v = (y - cy) / factor + cy;
      for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = clampByte(sample(rgb, width, height, u, v, c, fill));
    }
  }
  return out;
}

/** Rotates about the centre by `degrees`, filling uncovered corners with `fill`. */
export function rotate(rgb: Uint8Array, width: number, height: number, degrees: number, fill = 255): Uint8Array {
  assertRgb(rgb, width, height);
  const t = (degrees * Math.PI) / 180;
  const cos = Math.cos(t);
  const sin = Math.sin(t);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const u = cos * dx + sin * dy + cx;
      const v = -sin * dx + cos * dy + cy;
      for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = clampByte(sample(rgb, width, height, u, v, c, fill));
    }
  }
  return out;
}

/** Encodes as baseline JPEG at `quality` (1..100, 4:2:0 chroma) and decodes again with sharp. */
export async function jpegRoundTrip(rgb: Uint8Array, width: number, height: number, quality: number): Promise<Uint8Array> {
  assertRgb(rgb, width, height);
  const q = Math.round(quality);
  if (!(q >= 1 && q <= 100)) throw new Error(`JPEG quality must be 1..100, got ${quality}`);
  const jpeg = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: q, chromaSubsampling: '4:2:0', mozjpeg: false })
    .toBuffer();
  const { data } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.length).slice();
}

/**
 * Photometric augmentation params for the augment stage. Every op is off unless its field is set;
 * ranges are [lo, hi] sampled uniformly; `p` is the probability an op is applied to a variant.
 */
export interface PhotometricParams {
  /** HED stain jitter (Tellez et al.): scale ~ U(1−sigma, 1+sigma), bias ~ U(−bias, bias). */
  stain?: { sigma: number; bias: number; p?: number };
  /** RandStainNA-style: Reinhard transfer onto a virtual template drawn around the cell's LAB statistics. */
  randomTemplate?: RandomTemplateParams;
  colour?: ColourJitterRanges & { p?: number };
  gamma?: { range: [number, number]; p?: number };
  blur?: { sigma: [number, number]; p?: number };
  /** Content scale about the centre (e.g. [0.8, 1.25]); canvas size unchanged, fill white. */
  scale?: { range: [number, number]; p?: number };
  jpeg?: { quality: [number, number]; p?: number };
  /**
   * Grain: Gaussian noise, independent per channel, low-passed to blobs of about `grain` px and scaled to a
   * standard deviation drawn from `sigma` (of 255), on the cell's pixels only: the mottle a hazy photo shows
   * once normalisation has stretched its contrast, which a network could take for granules.
   */
  noise?: { sigma: [number, number]; grain?: number; p?: number };
  whiteThreshold?: number;
}

export const photometricParamsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    stain: {
      type: 'object',
      properties: { sigma: { type: 'number', minimum: 0, maximum: 1 }, bias: { type: 'number', minimum: 0 }, p: { type: 'number', minimum: 0, maximum: 1 } },
      required: ['sigma', 'bias'],
      additionalProperties: false,
    },
    randomTemplate: randomTemplateParamsSchema,
    colour: {
      type: 'object',
      properties: {
        brightness: { type: 'number', minimum: 0, maximum: 1 },
        contrast: { type: 'number', minimum: 0, maximum: 1 },
        saturation: { type: 'number', minimum: 0, maximum: 1 },
        hue: { type: 'number', minimum: 0, maximum: 180 },
        channelGain: { type: 'number', minimum: 0, maximum: 1 },
        p: { type: 'number', minimum: 0, maximum: 1 },
      },
      additionalProperties: false,
    },
    gamma: { type: 'object', properties: { range: range(0.05, 10), p: prob() }, required: ['range'], additionalProperties: false },
    blur: { type: 'object', properties: { sigma: range(0, 20), p: prob() }, required: ['sigma'], additionalProperties: false },
    scale: { type: 'object', properties: { range: range(0.1, 10), p: prob() }, required: ['range'], additionalProperties: false },
    jpeg: { type: 'object', properties: { quality: range(1, 100), p: prob() }, required: ['quality'], additionalProperties: false },
    noise: { type: 'object', properties: { sigma: range(0, 64), grain: { type: 'number', minimum: 0, maximum: 16 }, p: prob() }, required: ['sigma'], additionalProperties: false },
    whiteThreshold: { type: 'number', minimum: 1, maximum: 255 },
  },
} as const;

function range(min: number, max: number) {
  return { type: 'array', items: { type: 'number', minimum: min, maximum: max }, minItems: 2, maxItems: 2 };
}
function prob() {
  return { type: 'number', minimum: 0, maximum: 1 };
}

/** True when at least one photometric op is configured. */
export function photometricEnabled(params: PhotometricParams | undefined | null): boolean {
  return !!params && !!(params.stain || params.randomTemplate || params.colour || params.gamma || params.blur || params.scale || params.jpeg || params.noise);
}

/**
 * Applies the configured ops in acquisition order — stain, random stain template, colour, gamma (sample/illumination), scale
 * (magnification), blur (optics), noise (sensor), JPEG (storage) — each with its probability. Deterministic for `seed`.
 */
export async function applyPhotometric(
  rgb: Uint8Array,
  width: number,
  height: number,
  params: PhotometricParams,
  seed: number,
): Promise<Uint8Array> {
  assertRgb(rgb, width, height);
  const rng = mulberry32(seed);
  const wt = params.whiteThreshold ?? DEFAULT_WHITE_THRESHOLD;
  // Every op draws its numbers whether or not it fires, so enabling one op never changes another's draw.
  const fires = (p: number | undefined) => rng() < (p ?? 1);
  let img = rgb;
  if (params.stain) {
    const go = fires(params.stain.p);
    const shift = drawHedShift(rng, params.stain.sigma, params.stain.bias);
    if (go) img = hedShift(img, width, height, shift, true, wt);
  }
  if (params.randomTemplate) {
    // Its own stream, so turning it on leaves every other op's draws as they were.
    const own = mulberry32((seed ^ 0x5bd1e995) >>> 0);
    const go = own() < (params.randomTemplate.p ?? 1);
    const draw = drawStainTemplate(own, params.randomTemplate);
    if (go) img = applyStainTemplate(img, width, height, draw, wt);
  }
  if (params.colour) {
    const go = fires(params.colour.p);
    const shift = drawColourShift(rng, params.colour);
    if (go) img = colourShift(img, width, height, shift, true, wt);
  }
  if (params.gamma) {
    const go = fires(params.gamma.p);
    const g = uniform(rng, params.gamma.range[0], params.gamma.range[1]);
    if (go) img = gammaAdjust(img, g);
  }
  if (params.scale) {
    const go = fires(params.scale.p);
    // Log-uniform, so shrinking and enlarging by the same ratio are equally likely.
    const f = Math.exp(uniform(rng, Math.log(params.scale.range[0]), Math.log(params.scale.range[1])));
    if (go) img = scaleAboutCentre(img, width, height, f);
  }
  if (params.blur) {
    const go = fires(params.blur.p);
    const s = uniform(rng, params.blur.sigma[0], params.blur.sigma[1]);
    if (go) img = gaussianBlur(img, width, height, s);
  }
  if (params.noise) {
    // Its own stream (it draws a number per pixel), so turning it on leaves every other op's draws as they were.
    const own = mulberry32((seed ^ 0x27d4eb2f) >>> 0);
    const go = own() < (params.noise.p ?? 1);
    const amplitude = uniform(own, params.noise.sigma[0], params.noise.sigma[1]);
    if (go) img = grainNoise(img, width, height, amplitude, params.noise.grain ?? 0, own, wt);
  }
  if (params.jpeg) {
    const go = fires(params.jpeg.p);
    const q = uniform(rng, params.jpeg.quality[0], params.jpeg.quality[1]);
    if (go) img = await jpegRoundTrip(img, width, height, q);
  }
  return img === rgb ? rgb.slice() : img;
}

/** Adds per-channel Gaussian noise, low-passed by σ `grain` px and rescaled to standard deviation `amplitude`, to the cell's pixels. */
export function grainNoise(rgb: Uint8Array, width: number, height: number, amplitude: number, grain: number, rng: Random, whiteThreshold = DEFAULT_WHITE_THRESHOLD): Uint8Array {
  const mask = cellMask(rgb, width, height, whiteThreshold);
  const n = width * height;
  // Interleaved like the image; drawn a whole channel at a time.
  let field: Float64Array = new Float64Array(3 * n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i += 2) {
      // Box–Muller: two normals per pair of uniforms.
      const u = Math.max(rng(), 1e-12), v = rng();
      const r = Math.sqrt(-2 * Math.log(u));
      field[3 * i + c] = r * Math.cos(2 * Math.PI * v);
      if (i + 1 < n) field[3 * (i + 1) + c] = r * Math.sin(2 * Math.PI * v);
    }
  }
  if (grain > 0) field = gaussianBlurRgbFloat(field, width, height, grain);
  const out = rgb.slice();
  for (let c = 0; c < 3; c++) {
    let sumSq = 0;
    for (let i = 0; i < n; i++) sumSq += field[3 * i + c]! * field[3 * i + c]!;
    const scale = sumSq > 0 ? amplitude / Math.sqrt(sumSq / n) : 0;
    for (let i = 0; i < n; i++) if (mask[i]) out[3 * i + c] = clampByte(rgb[3 * i + c]! + field[3 * i + c]! * scale);
  }
  return out;
}
