// features.json: what the features stage computed (architecture, weights, input, pooled layers, vector
// length, variants covered). Written by features, read by train and cross-lab.
import type { BaseWeights } from '../classifier/base-model.js';
import type { Preprocessing } from '../classifier/preprocessing.js';

export interface FeaturesRecord {
  status: 'computed' | 'skipped';
  reason?: string;
  arch: string;
  weights: BaseWeights;
  inputSize: number;
  preprocessing: Preprocessing;
  seed: number;
  /** Resolutions pooled. */
  levels: number;
  /** The layers whose global average pools make up each vector, shallowest first (absent when skipped). */
  taps?: string[];
  /** Length of every vector. */
  dim: number | null;
  /** Variants per cell that have a vector; null = all. Training uses only those. */
  variants: number | null;
  items: number;
  layout: string;
}

/**
 * Where the vector of one image lives in the features stage's outputs. `file` names the image as the split
 * CSVs do, `<stageId>/<relpath>` of the stage that produced it.
 */
export function featureVectorPath(file: string): string {
  return `features/${file}.f32`;
}

/** features.json `layout`: how the vectors are laid out. */
export const FEATURES_LAYOUT = 'features/<stageId>/<rel>.f32 — little-endian float32, one vector per image';
