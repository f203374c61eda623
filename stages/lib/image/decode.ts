// Decoding and encoding over sharp, with errors that name the file and say what is wrong.
import sharp from 'sharp';
import type { Metadata, Sharp } from 'sharp';
import type { Mask, RgbImage } from './raster.js';

/** The input could not be read as an image (truncated, not an image, unsupported). */
export class ImageDecodeError extends Error {
  constructor(message: string, readonly subject?: string) {
    super(subject ? `${subject}: ${message}` : message);
    this.name = 'ImageDecodeError';
  }
}

export interface DecodeOptions {
  /** Downscale (keeping aspect) so that width×height stays at or below this; 0 = never. */
  maxPixels?: number;
  /** Name used in error messages. */
  name?: string;
}

export interface Decoded extends RgbImage {
  /** Size of the file's image before any downscale. */
  originalWidth: number;
  originalHeight: number;
  /** Working pixels per original pixel (1 unless downscaled). */
  scale: number;
  format: string;
}

/** Anything sharp reads → RGB, alpha flattened onto white, orientation applied. */
export async function decodeRgb(input: Buffer, opts: DecodeOptions = {}): Promise<Decoded> {
  let meta: Metadata;
  try {
    meta = await sharp(input, { failOn: 'error' }).metadata();
  } catch (e) {
    throw new ImageDecodeError(`not a readable image (${firstLine(e)})`, opts.name);
  }
  if (!meta.width || !meta.height) throw new ImageDecodeError('image has no size', opts.name);
  const swap = (meta.orientation ?? 1) >= 5;
  const ow = swap ? meta.height : meta.width;
  const oh = swap ? meta.width : meta.height;
  let w = ow, h = oh;
  if (opts.maxPixels && ow * oh > opts.maxPixels) {
    const k = Math.sqrt(opts.maxPixels / (ow * oh));
    w = Math.max(1, Math.floor(ow * k));
    h = Math.max(1, Math.floor(oh * k));
  }
  try {
    let pipeline = sharp(input, { failOn: 'error', limitInputPixels: 1e9 }).rotate();
    if (w !== ow || h !== oh) pipeline = pipeline.resize(w, h, { fit: 'fill', kernel: 'lanczos3' });
    const { data, info } = await pipeline
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected ${info.channels} channels`);
    return {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      originalWidth: ow,
      originalHeight: oh,
      scale: info.width / ow,
      format: meta.format ?? 'unknown',
    };
  } catch (e) {
    throw new ImageDecodeError(`image data is damaged or truncated (${firstLine(e)})`, opts.name);
  }
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0]!.trim();
}

// PNG options fixed so the same pixels always give the same bytes.
const PNG_OPTIONS = { compressionLevel: 9, adaptiveFiltering: false, palette: false } as const;

export function rgbSharp(image: RgbImage): Sharp {
  return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.length), {
    raw: { width: image.width, height: image.height, channels: 3 },
  });
}

export async function encodePng(image: RgbImage): Promise<Buffer> {
  return rgbSharp(image).png(PNG_OPTIONS).toBuffer();
}

/** Mask → 8-bit greyscale PNG, 255 inside. */
export async function encodeMaskPng(mask: Mask): Promise<Buffer> {
  const grey = Buffer.alloc(mask.data.length);
  for (let i = 0; i < grey.length; i++) grey[i] = mask.data[i] ? 255 : 0;
  return sharp(grey, { raw: { width: mask.width, height: mask.height, channels: 1 } })
    .toColourspace('b-w')
    .png(PNG_OPTIONS)
    .toBuffer();
}

/** Greyscale PNG (or any image) → mask, inside where the value is ≥ 128. */
export async function decodeMask(input: Buffer): Promise<Mask> {
  const { data, info } = await sharp(input).greyscale().raw().toBuffer({ resolveWithObject: true });
  const out = new Uint8Array(info.width * info.height);
  for (let i = 0; i < out.length; i++) out[i] = data[i * info.channels]! >= 128 ? 1 : 0;
  return { width: info.width, height: info.height, data: out };
}
