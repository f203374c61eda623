// SHOT's information maximisation (Liang et al. 2020) as a test-time adaptation for the cross-lab bench
// (bench/cross-lab-methods.ts, IM=epochs[:learning rate[:diversity weight]]): the head's standardisation and
// hidden layer train on the held-out lab's unlabelled cells alone, the output layer frozen (SHOT's
// "hypothesis"), to make each cell's prediction confident (low entropy) while the predictions over the lab stay
// spread across the classes (high entropy of their mean), so it cannot collapse to one class. No training-lab
// rows are needed, as in `pipe predict`. It changes the head in place, so the self-trained figure starts from it.
import * as tf from '@tensorflow/tfjs';
import type { HeldOutAdaptation } from '../../stages/cross-lab.js';
import { predictFeatureMatrix } from '../../stages/lib/classifier/feature-matrix.js';
import { mulberry32 } from '../../stages/lib/random.js';

/**
 * `folder` > 0: the lab's cells dealt into folders of about that many (by a seeded shuffle), each adapted from the
 * head as trained, as `pipe predict` would adapt to each folder a lab sends; the head is left as trained.
 */
export function informationMaximization(epochs: number, learningRate: number, diversity: number, seed: number, folder = 0): HeldOutAdaptation {
  const adapt = adaptation(epochs, learningRate, diversity, seed);
  if (!folder) return adapt;
  return async (input) => {
    const { model, heldOut, dim } = input;
    const n = heldOut.length / dim;
    const random = mulberry32(seed * 31 + 1);
    const order = Array.from({ length: n }, (_, i) => i).sort(() => random() - 0.5);
    const folders = Math.max(1, Math.round(n / folder));
    const kept = model.getWeights().map((w) => w.clone());
    const probabilities: number[][] = new Array(n);
    for (let f = 0; f < folders; f++) {
      const rows = order.filter((_, i) => i % folders === f);
      const x = new Float32Array(rows.length * dim);
      rows.forEach((r, i) => x.set(heldOut.subarray(r * dim, (r + 1) * dim), i * dim));
      const p = await adapt({ ...input, heldOut: x });
      rows.forEach((r, i) => (probabilities[r] = p[i]!));
      model.setWeights(kept);
    }
    kept.forEach((w) => w.dispose());
    return probabilities;
  };
}

function adaptation(epochs: number, learningRate: number, diversity: number, seed: number): HeldOutAdaptation {
  return async ({ model, heldOut, dim }) => {
    const [standardize, dense, dropout, out] = ['head_standardize', 'head_dense', 'head_dropout', 'head_predictions'].map((n) => model.getLayer(n)) as [tf.layers.Layer, tf.layers.Layer, tf.layers.Layer, tf.layers.Layer];
    const optimizer = tf.train.adam(learningRate);
    const n = heldOut.length / dim;
    const batch = 64;
    const random = mulberry32(seed * 104729 + 5);
    const trainable = [...standardize.trainableWeights, ...dense.trainableWeights].map((w) => w.read() as tf.Variable);
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (let start = 0; start < n; start += batch) {
        const rows = order.slice(start, start + batch);
        if (rows.length < 8) continue;
        const x = new Float32Array(rows.length * dim);
        rows.forEach((r, i) => x.set(heldOut.subarray(r * dim, (r + 1) * dim), i * dim));
        const input = tf.tensor2d(x, [rows.length, dim]);
        optimizer.minimize(() => {
          const h = dense.apply(standardize.apply(input, { training: true }), { training: true }) as tf.Tensor;
          const p = (out.apply(dropout.apply(h, { training: false })) as tf.Tensor).clipByValue(1e-7, 1);
          const entropy = p.mul(p.log()).sum(1).mean().neg();
          const mean = p.mean(0);
          const spread = mean.mul(mean.log()).sum().neg();
          return entropy.sub(spread.mul(diversity)) as tf.Scalar;
        }, false, trainable);
        input.dispose();
      }
    }
    optimizer.dispose();
    return predictFeatureMatrix(model, heldOut, dim);
  };
}
