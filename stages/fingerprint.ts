// fingerprint (per item): what the audit needs to know of each file of the dataset — decodable or
// not, pixel size, perceptual hash — computed once per file content and cached by the runner per item.
// The audit itself compares all files with each other, so it must see every file each time; with the
// fingerprints cached, adding one image to a 5,000-image dataset decodes one image, not 5,000.
//
// Output: fingerprints/<workspace-relative path>.json per input file.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { definePerItemStage } from '../pipeline/stage-api.js';
import { perceptualHash } from './lib/image/perceptual-hash.js';
import { json, writeAllOrNothing } from './lib/item-files.js';

export interface FingerprintParams {
  /** Informational; the inputs say which files. */
  dataRoot?: string;
}

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

export default definePerItemStage<FingerprintParams>({
  paramsSchema: { type: 'object', properties: { dataRoot: { type: 'string' } } },

  async processItems(ctx, items) {
    let done = 0;
    for (const item of items) {
      if (ctx.signal.aborted) return;
      const print = await fingerprintFile(item.input, item.input.rel);
      await writeAllOrNothing(item.outDir, { [fingerprintPath(item.input.rel)]: json(print) });
      ctx.progress(++done, items.length, 'fingerprint');
    }
  },
});
