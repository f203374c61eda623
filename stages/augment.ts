// augment (per item): N deterministic variants of each cell with the study's Keras
// ImageDataGenerator settings (rotation, shifts, shear, flips, fill white), optionally followed by
// photometric ops (stain/colour jitter, blur, JPEG, scale) from lib/shift/photometric.ts. Before those, a
// share of variants can lose part of their cytoplasm (lib/shift/cytoplasm-loss.ts), as cells segmented on
// another lab's paler smears do.
// Same source bytes + params + seed → byte-identical variants, whatever order items run in.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { definePerItemStage, StageError, type InputFile } from '../pipeline/stage-api.js';
import { augmentMatrix, warpAffine, type AugmentDraw } from './lib/image/affine.js';
import { decodeRgb, encodePng } from './lib/image/decode.js';
import { randomFor, sha256Seed, uniform } from './lib/random.js';
import { cellKey, json, writeAllOrNothing } from './lib/io/item-files.js';
import { cytoplasmLossParamsSchema, withCytoplasmLoss, type CytoplasmLossParams } from './lib/shift/cytoplasm-loss.js';
import { applyPhotometric, photometricEnabled, photometricParamsSchema, type PhotometricParams } from './lib/shift/photometric.js';
import { variantFileName } from './lib/records/augment-variant-name.js';
import { AUGMENT_JSON, type AugmentRecord, type AugmentSettings, type VariantRecord } from './lib/records/augment-record.js';

export interface AugmentParams {
  variants: number;
  seed: number;
  /** Degrees; drawn uniformly in ±rotation. */
  rotation: number;
  /** Fractions of the width/height; drawn uniformly in ±shift. */
  widthShift: number;
  heightShift: number;
  /** Shear angle range in degrees, as Keras' `shear_range` (the study's 0.2 is a 0.2° shear). */
  shear: number;
  horizontalFlip: boolean;
  verticalFlip: boolean;
  fill: 'white' | 'black';
  /** Optional photometric ops after the geometric transform; off unless set. */
  photometric?: PhotometricParams | null;
  /** Optional: variants whose cytoplasm is partly cut away before the geometric transform; off unless set. */
  cytoplasmLoss?: CytoplasmLossParams | null;
}

const paramsSchema = {
  type: 'object',
  required: ['variants', 'seed'],
  properties: {
    variants: { type: 'integer', minimum: 0, maximum: 1000 },
    seed: { type: 'integer' },
    rotation: { type: 'number', minimum: 0, maximum: 180 },
    widthShift: { type: 'number', minimum: 0, maximum: 1 },
    heightShift: { type: 'number', minimum: 0, maximum: 1 },
    shear: { type: 'number', minimum: 0, maximum: 89 },
    horizontalFlip: { type: 'boolean' },
    verticalFlip: { type: 'boolean' },
    fill: { enum: ['white', 'black'] },
    photometric: { anyOf: [{ type: 'null' }, photometricParamsSchema] },
    cytoplasmLoss: { anyOf: [{ type: 'null' }, cytoplasmLossParamsSchema] },
  },
};

/** The k-th variant's geometric draw; depends only on the source hash, seed and k. */
export function drawVariant(params: AugmentParams, sourceHash: string, k: number, width: number, height: number): AugmentDraw {
  const rng = randomFor(`augment:${params.seed}:${sourceHash}:${k}`);
  // Every field draws whether or not it is enabled, so turning one off leaves the others unchanged.
  const rotation = uniform(rng, -1, 1) * (params.rotation ?? 0);
  const tx = uniform(rng, -1, 1) * (params.widthShift ?? 0) * width;
  const ty = uniform(rng, -1, 1) * (params.heightShift ?? 0) * height;
  const shear = uniform(rng, -1, 1) * (params.shear ?? 0);
  const flipH = rng() < 0.5 && !!params.horizontalFlip;
  const flipV = rng() < 0.5 && !!params.verticalFlip;
  return { rotation: round4(rotation), tx: round4(tx), ty: round4(ty), shear: round4(shear), flipH, flipV };
}

/** The k-th variant's kept cytoplasm rim, or null when it keeps its cytoplasm (own stream: other draws unchanged). */
export function drawCytoplasmRim(params: AugmentParams, sourceHash: string, k: number): number | null {
  const loss = params.cytoplasmLoss;
  if (!loss || loss.share <= 0) return null;
  const rng = randomFor(`cytoplasm:${params.seed}:${sourceHash}:${k}`);
  if (rng() >= loss.share) return null;
  return round4(uniform(rng, loss.rim[0], loss.rim[1]));
}

/** All variants of one source cell, as files to write (PNG bytes + the JSON record). */
export async function augmentOne(input: InputFile, params: AugmentParams): Promise<Record<string, Buffer | string>> {
  const { className, key } = cellKey(input.rel);
  const image = await decodeRgb(await readFile(input.path), { name: input.rel });
  const fill: [number, number, number] = params.fill === 'black' ? [0, 0, 0] : [255, 255, 255];
  const files: Record<string, Buffer | string> = {};
  const variants: VariantRecord[] = [];
  for (let k = 0; k < params.variants; k++) {
    const draw = drawVariant(params, input.hash, k, image.width, image.height);
    const cytoplasmRim = drawCytoplasmRim(params, input.hash, k);
    const source = cytoplasmRim === null ? image : await withCytoplasmLoss(image, cytoplasmRim, params.cytoplasmLoss!.margin);
    let out = warpAffine(source, augmentMatrix(draw, image.width, image.height), fill);
    let photometricSeed: number | null = null;
    if (photometricEnabled(params.photometric)) {
      photometricSeed = sha256Seed(`photometric:${params.seed}:${input.hash}:${k}`);
      out = { ...out, data: await applyPhotometric(out.data, out.width, out.height, params.photometric!, photometricSeed) };
    }
    const file = variantFileName(key, k);
    files[file] = await encodePng(out);
    variants.push({ file, k, transform: draw, photometricSeed, cytoplasmRim });
  }
  const record: AugmentRecord = {
    source: input.rel,
    sourceStage: input.fromInstance ?? null,
    sourceSha256: input.hash,
    class: className,
    seed: params.seed,
    variants,
  };
  files[`variants/${key}.json`] = json(record);
  return files;
}

export default definePerItemStage<AugmentParams>({
  paramsSchema,
  async processItems(ctx, items) {
    let done = 0;
    for (const item of items) {
      if (ctx.signal.aborted) throw new StageError('cancelled', ctx.instanceId);
      // Inputs are our own segment/normalize PNGs; an unreadable one is a pipeline bug, so fail loudly.
      await writeAllOrNothing(item.outDir, await augmentOne(item.input, ctx.params));
      ctx.progress(++done, items.length, item.input.rel);
    }
  },
  async finalize(ctx) {
    const p = ctx.params;
    const used: AugmentSettings = { variants: p.variants, seed: p.seed, photometric: p.photometric ?? null, cytoplasmLoss: p.cytoplasmLoss ?? null };
    await writeFile(path.join(ctx.outDir, AUGMENT_JSON), json(used));
  },
});

function round4(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}
