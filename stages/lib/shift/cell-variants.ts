// The augmented variants of one cell, as the augment stage writes them and as `pipe predict` makes them of a
// folder's cells for self-training (folder-self-training.ts): the study's Keras ImageDataGenerator settings
// (rotation, shifts, shear, flips, fill), a share of variants that lose part of their cytoplasm first, and
// optional photometric ops after. Variant k of a cell depends only on the cell's hash, the seed and k.
import { augmentMatrix, warpAffine, type AugmentDraw } from '../image/affine.js';
import type { RgbImage } from '../image/raster.js';
import { randomFor, sha256Seed, uniform } from '../random.js';
import { cytoplasmLossParamsSchema, withCytoplasmLoss, type CytoplasmLossParams } from './cytoplasm-loss.js';
import { applyPhotometric, photometricEnabled, photometricParamsSchema, type PhotometricParams } from './photometric.js';

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

export const augmentParamsSchema = {
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

export interface CellVariant {
  image: RgbImage;
  transform: AugmentDraw;
  photometricSeed: number | null;
  cytoplasmRim: number | null;
}

/** Variant k of `image`, a cell on white whose bytes hash to `sourceHash`. */
export async function cellVariant(image: RgbImage, sourceHash: string, k: number, params: AugmentParams): Promise<CellVariant> {
  const fill: [number, number, number] = params.fill === 'black' ? [0, 0, 0] : [255, 255, 255];
  const transform = drawVariant(params, sourceHash, k, image.width, image.height);
  const cytoplasmRim = drawCytoplasmRim(params, sourceHash, k);
  const source = cytoplasmRim === null ? image : await withCytoplasmLoss(image, cytoplasmRim, params.cytoplasmLoss!.margin);
  let out = warpAffine(source, augmentMatrix(transform, image.width, image.height), fill);
  let photometricSeed: number | null = null;
  if (photometricEnabled(params.photometric)) {
    photometricSeed = sha256Seed(`photometric:${params.seed}:${sourceHash}:${k}`);
    out = { ...out, data: await applyPhotometric(out.data, out.width, out.height, params.photometric!, photometricSeed) };
  }
  return { image: out, transform, photometricSeed, cytoplasmRim };
}

function round4(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}
