// augment's variants/<cell key>.json: the variants made of one cell and how (transform, photometric
// seed, cytoplasm kept). Written by augment, read by split. Variant file names: augment-variant-name.ts.
// augment.json: the settings every variant was made with, which the report quotes and pipe predict reuses.
import type { AugmentDraw } from '../image/affine.js';
import type { CytoplasmLossParams } from '../shift/cytoplasm-loss.js';
import type { PhotometricParams } from '../shift/photometric.js';
import type { AugmentParams } from '../shift/cell-variants.js';

export interface VariantRecord {
  file: string;
  k: number;
  transform: AugmentDraw;
  photometricSeed: number | null;
  /** Kept rim around the nucleus (fraction of the cell radius) when this variant lost cytoplasm, else null. */
  cytoplasmRim: number | null;
}

export interface AugmentRecord {
  /** The source cell, as the runner named it (relative to the producing stage's output). */
  source: string;
  sourceStage: string | null;
  sourceSha256: string;
  class: string;
  seed: number;
  variants: VariantRecord[];
}

export const AUGMENT_JSON = 'augment.json';

/**
 * augment.json: the stage's settings as used (its params), for the report to say what training saw and for
 * cross-lab to hand `pipe predict` the settings of the variants it self-trained on (lib/shift/cell-variants.ts).
 * Records written before 2026-12-07 hold only variants, seed, photometric and cytoplasmLoss.
 */
export type AugmentSettings = Pick<AugmentParams, 'variants' | 'seed'> &
  Partial<Omit<AugmentParams, 'variants' | 'seed' | 'photometric' | 'cytoplasmLoss'>> & {
    photometric: PhotometricParams | null;
    cytoplasmLoss: CytoplasmLossParams | null;
  };
