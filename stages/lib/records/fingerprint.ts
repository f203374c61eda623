// One file's fingerprint (decodable or not, pixel size, perceptual hash), as the fingerprint stage
// publishes it at `fingerprints/<workspace-relative path>.json` and split and audit read it.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { perceptualHash } from '../image/perceptual-hash.js';

export interface Fingerprint {
  sha256: string;
  kind: 'image' | 'undecodable' | 'not-image';
  reason?: string;
  width?: number;
  height?: number;
  /** 64-bit DCT hash, hex. */
  phash?: string;
}

export const IMAGE_EXT = /\.(jpe?g|png|tiff?|bmp|webp|gif)$/i;

/** Where the fingerprint of the input at workspace-relative `rel` lives in the stage's output. */
export function fingerprintPath(rel: string): string {
  return `fingerprints/${rel}.json`;
}

/** Decodes, measures and hashes one file (`hash`: its sha256, as the runner computed it). */
export async function fingerprintFile(input: { path: string; hash: string }, name: string): Promise<Fingerprint> {
  if (!IMAGE_EXT.test(name)) return { sha256: input.hash, kind: 'not-image', reason: 'extension is not an image type' };
  try {
    const bytes = await readFile(input.path);
    const meta = await sharp(bytes, { failOn: 'error' }).metadata();
    // Decoding the pixels (not only the header) catches truncated files.
    const phash = await perceptualHash(sharp(bytes, { failOn: 'error', limitInputPixels: 1e9 }));
    return { sha256: input.hash, kind: 'image', ...(meta.width !== undefined ? { width: meta.width } : {}), ...(meta.height !== undefined ? { height: meta.height } : {}), phash };
  } catch (e) {
    return { sha256: input.hash, kind: 'undecodable', reason: String((e as Error).message).split('\n')[0] };
  }
}
