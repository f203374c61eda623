// augment's variants/<cell key>.json: the variants made of one cell and how (transform, photometric
// seed, cytoplasm kept). Written by augment, read by split. Variant file names: augment-variant-name.ts.
// augment.json: the settings every variant was made with, which the report quotes.
import type { AugmentDraw } from '../image/affine.js';
import type { CytoplasmLossParams } from '../shift/cytoplasm-loss.js';
import type { PhotometricParams } from '../shift/photometric.js';

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

/** augment.json: the stage's settings as used (its params), for the report to say what training saw. */
export interface AugmentSettings {
  variants: number;
  seed: number;
  photometric: PhotometricParams | null;
  cytoplasmLoss: CytoplasmLossParams | null;
}
