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
  /** Resolutions pooled (absent in records written before it existed: 1). */
  levels?: number;
  /** The layers whose global average pools make up each vector, shallowest first. */
  taps?: string[];
  /** Length of every vector. */
  dim: number | null;
  /** Variants per cell that have a vector; null (or absent) = all. Training uses only those. */
  variants?: number | null;
  items: number;
  layout: string;
}
