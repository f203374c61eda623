// Per-dimension standardisation of cached feature vectors for fitting the head, folded into the head's
// first Dense layer afterwards so the saved model is plain Keras layers and reads raw features.
//
// Why: the levels of a feature pyramid differ in scale by an order of magnitude (shallow ReLU6 maps
// average far lower than the last block), and an unstandardised head mostly listens to the loudest
// level: 99.4% → 96.8% same-source on the embedded PBC set without it (BENCHMARKS.md).
import * as tf from '@tensorflow/tfjs';
import { readFeatureVector } from './batch-source.js';

export interface FeatureStatistics {
  mean: Float32Array;
  /** 1/std per dimension; 0 where the dimension is constant on the training set (it carries nothing). */
  scale: Float32Array;
}

/** Mean and inverse standard deviation of the vectors in `paths` (two passes in float64). */
export async function featureStatistics(paths: readonly string[], dim: number): Promise<FeatureStatistics> {
  if (paths.length === 0) throw new Error('no feature vectors to standardise');
  const sum = new Float64Array(dim);
  const sumSq = new Float64Array(dim);
  for (let start = 0; start < paths.length; start += 256) {
    const vectors = await Promise.all(paths.slice(start, start + 256).map(readFeatureVector));
    vectors.forEach((v, k) => {
      if (v.length !== dim) throw new Error(`${paths[start + k]}: feature length ${v.length}, expected ${dim}`);
      for (let i = 0; i < dim; i++) (sum[i]! += v[i]!), (sumSq[i]! += v[i]! * v[i]!);
    });
  }
  const n = paths.length;
  const mean = new Float32Array(dim);
  const scale = new Float32Array(dim);
  for (let i = 0; i < dim; i++) {
    const m = sum[i]! / n;
    const variance = Math.max(0, sumSq[i]! / n - m * m);
    mean[i] = m;
    scale[i] = variance > 1e-12 ? 1 / Math.sqrt(variance) : 0;
  }
  return { mean, scale };
}

export function standardizeInPlace(vector: Float32Array, stats: FeatureStatistics): void {
  for (let i = 0; i < vector.length; i++) vector[i] = (vector[i]! - stats.mean[i]!) * stats.scale[i]!;
}

/**
 * Rewrites a Dense layer trained on standardised inputs so that it gives the same outputs on raw ones:
 * W'[i,:] = W[i,:]·scale[i], b' = b − Σᵢ mean[i]·scale[i]·W[i,:].
 */
export function foldStandardization(dense: tf.layers.Layer, stats: FeatureStatistics): void {
  const [kernel, bias] = dense.getWeights();
  if (!kernel || !bias || kernel.shape.length !== 2) throw new Error(`${dense.name}: expected a Dense layer with kernel and bias`);
  const [dim, units] = kernel.shape as [number, number];
  if (dim !== stats.mean.length) throw new Error(`${dense.name}: kernel has ${dim} inputs, statistics have ${stats.mean.length}`);
  const w = kernel.dataSync();
  const b = Float32Array.from(bias.dataSync());
  const folded = new Float32Array(w.length);
  for (let i = 0; i < dim; i++) {
    const s = stats.scale[i]!;
    const shift = stats.mean[i]! * s;
    for (let j = 0; j < units; j++) {
      const wij = w[i * units + j]!;
      folded[i * units + j] = wij * s;
      b[j] = b[j]! - shift * wij;
    }
  }
  const k = tf.tensor2d(folded, [dim, units]);
  const c = tf.tensor1d(b);
  dense.setWeights([k, c]);
  tf.dispose([k, c]);
}
