// augment's variants/<cell key>.json: the variants made of one cell and how (transform, photometric
// seed, cytoplasm kept). Written by augment, read by split. Variant file names: augment-variant-name.ts.
import type { AugmentDraw } from '../image/affine.js';

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
