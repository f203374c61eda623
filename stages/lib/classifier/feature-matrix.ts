// Cached feature vectors of many cells as one matrix, a head's predictions on it, and AdaBN for a head
// whose first layer standardises the features (test-time adaptation to one lab's cells).
import * as tf from '@tensorflow/tfjs';
import { readFeatureVector, seededPermutation, type BatchSource } from './batch-source.js';
import { featureFile } from './feature-head.js';
import { classBalancedMoments, type Moments } from './class-balanced-moments.js';

/** Reads the vectors of `files` into one [n, dim] matrix. */
export async function readFeatureMatrix(featuresDir: string, files: readonly string[], dim: number): Promise<Float32Array> {
  const out = new Float32Array(files.length * dim);
  for (let i = 0; i < files.length; i += 256) {
    const chunk = files.slice(i, i + 256);
    const vectors = await Promise.all(chunk.map((f) => readFeatureVector(featureFile(featuresDir, f))));
    vectors.forEach((v, j) => {
      if (v.length !== dim) throw new Error(`${featureFile(featuresDir, chunk[j]!)}: feature length ${v.length}, expected ${dim}`);
      out.set(v, (i + j) * dim);
    });
  }
  return out;
}

/** Class probabilities of a head model for an [n, dim] matrix. */
export function predictFeatureMatrix(model: tf.LayersModel, x: Float32Array, dim: number): number[][] {
  const n = x.length / dim;
  if (n === 0) return [];
  return tf.tidy(() => (model.predict(tf.tensor2d(x, [n, dim])) as tf.Tensor).arraySync() as number[][]);
}

/**
 * AdaBN for a head on features: the head's feature standardisation (its first BatchNormalization) takes
 * the mean and variance of one lab's unlabelled vectors instead of the training labs'. With
 * `classBalanced` > 0, that many rounds follow in which the statistics are re-estimated with every class
 * weighted equally by the head's own predictions (class-balanced-moments.ts), so a lab of mostly one class
 * is not standardised by that class's mean. Returns the previous statistics so the caller can put them back.
 */
export function adaptStandardization(model: tf.LayersModel, x: Float32Array, dim: number, options: { classBalanced?: number } = {}): (() => void) | null {
  const bn = model.layers.find((l) => l.getClassName() === 'BatchNormalization');
  if (!bn) return null;
  const before = bn.getWeights().map((w) => w.clone());
  const n = x.length / dim;
  if (n < 2) return () => before.forEach((w) => w.dispose());
  const mean = new Float32Array(dim);
  const variance = new Float32Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d]! += x[i * dim + d]! / n;
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) variance[d]! += (x[i * dim + d]! - mean[d]!) ** 2 / n;
  const set = (m: Moments) => {
    // [gamma, beta, movingMean, movingVariance] (Keras order; scale/center may be absent).
    const weights = bn.getWeights();
    const created = [tf.tensor1d(m.mean), tf.tensor1d(m.variance)];
    bn.setWeights([...weights.slice(0, weights.length - 2), ...created]);
    tf.dispose(created);
  };
  set({ mean, variance });
  for (let round = 0; round < (options.classBalanced ?? 0); round++) set(classBalancedMoments(x, dim, predictFeatureMatrix(model, x, dim)));
  return () => {
    bn.setWeights(before);
    before.forEach((w) => w.dispose());
  };
}

/**
 * Batches from vectors already in memory (rows of an [n, dim] matrix), in the same seeded order as the
 * streaming source: the cross-lab study fits many heads on the same few thousand vectors, and reading
 * each small file again every epoch would cost more than the training.
 */
export function memoryFeatureSource(x: Float32Array, labels: readonly number[], options: { batchSize: number; classes: number; dim: number }): BatchSource {
  const { batchSize, classes, dim } = options;
  return {
    count: labels.length,
    batchSize,
    async *batches(shuffleSeed) {
      const order = shuffleSeed === null ? labels.map((_, i) => i) : seededPermutation(labels.length, shuffleSeed);
      for (let start = 0; start < order.length; start += batchSize) {
        const idx = order.slice(start, start + batchSize);
        const rows = new Float32Array(idx.length * dim);
        idx.forEach((r, i) => rows.set(x.subarray(r * dim, (r + 1) * dim), i * dim));
        const y = tf.tidy(() => tf.oneHot(tf.tensor1d(idx.map((r) => labels[r]!), 'int32'), classes).toFloat() as tf.Tensor2D);
        yield { x: tf.tensor2d(rows, [idx.length, dim]), y, size: idx.length };
      }
    },
  };
}
