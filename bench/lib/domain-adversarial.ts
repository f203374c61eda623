// Domain-adversarial training (DANN, Ganin & Lempitsky 2015) of the held-out head, as a test-time adaptation
// for the cross-lab bench (bench/cross-lab-methods.ts, DANN=λ[:epochs[:learning rate]]). The head as trained
// goes on training on the other labs' labelled rows while a small lab discriminator reads its hidden layer
// (head_dense) through a gradient reversal: the discriminator learns to tell the held-out lab's cells from the
// training labs', and the head learns hidden features from which it cannot. Each step is one batch of
// training rows and one of held-out rows through the head together (so its BatchNormalization sees both, as
// DANN's feature extractor does); the reversal's strength ramps 0 → λ as DANN's schedule does.
// It changes the head in place, so the stage's self-training (the next column) starts from the adapted head.
import * as tf from '@tensorflow/tfjs';
import type { HeldOutAdaptation } from '../../stages/cross-lab.js';
import { predictFeatureMatrix } from '../../stages/lib/classifier/feature-matrix.js';
import { mulberry32 } from '../../stages/lib/random.js';

/** Identity forward, −strength · gradient backward. */
function reverseGradient(x: tf.Tensor, strength: number): tf.Tensor {
  const f = tf.customGrad(((input: tf.Tensor) => ({ value: input.clone(), gradFunc: (dy: tf.Tensor) => dy.mul(-strength) })) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (input: tf.Tensor) => tf.Tensor;
  return f(x);
}

export function domainAdversarial(strength: number, epochs: number, learningRate: number, seed: number): HeldOutAdaptation {
  return async ({ model, train, heldOut, dim }) => {
    const layer = (name: string) => model.getLayer(name);
    const [standardize, dense, dropout, out] = ['head_standardize', 'head_dense', 'head_dropout', 'head_predictions'].map(layer) as [tf.layers.Layer, tf.layers.Layer, tf.layers.Layer, tf.layers.Layer];
    const classes = (out.getConfig() as { units: number }).units;
    const hidden = (dense.getConfig() as { units: number }).units;
    const discriminator = [
      tf.layers.dense({ units: 64, activation: 'relu', inputShape: [hidden], kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 7 }) }),
      tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 8 }) }),
    ];
    const discriminate = (h: tf.Tensor) => discriminator.reduce((t, l) => l.apply(t) as tf.Tensor, h);
    discriminate(tf.zeros([1, hidden])).dispose(); // builds its weights
    const optimizer = tf.train.adam(learningRate);
    const nTrain = train.labels.length;
    const nHeld = heldOut.length / dim;
    const batch = 32;
    const random = mulberry32(seed * 7919 + 13);
    const steps = Math.ceil(nTrain / batch);
    const total = epochs * steps;
    const pick = (n: number) => Array.from({ length: batch }, () => Math.floor(random() * n));
    const rowsOf = (matrix: Float32Array, rows: number[]) => {
      const x = new Float32Array(rows.length * dim);
      rows.forEach((r, i) => x.set(matrix.subarray(r * dim, (r + 1) * dim), i * dim));
      return x;
    };
    let step = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      for (let s = 0; s < steps; s++, step++) {
        const progress = step / total;
        const lambda = strength * (2 / (1 + Math.exp(-10 * progress)) - 1);
        const sourceRows = pick(nTrain);
        const targetRows = pick(nHeld);
        const x = tf.tensor2d([...rowsOf(train.x, sourceRows), ...rowsOf(heldOut, targetRows)], [2 * batch, dim]);
        const y = tf.oneHot(tf.tensor1d(sourceRows.map((r) => train.labels[r]!), 'int32'), classes).toFloat();
        const domain = tf.concat([tf.zeros([batch, 1]), tf.ones([batch, 1])]);
        optimizer.minimize(() => {
          const h = dense.apply(standardize.apply(x, { training: true }), { training: true }) as tf.Tensor;
          const p = out.apply(dropout.apply(h.slice([0, 0], [batch, hidden]), { training: true })) as tf.Tensor;
          const classLoss = tf.losses.softmaxCrossEntropy(y, tf.log(p.clipByValue(1e-7, 1)));
          const domainLoss = tf.losses.sigmoidCrossEntropy(domain, discriminate(reverseGradient(h, lambda)));
          return classLoss.add(domainLoss) as tf.Scalar;
        });
        tf.dispose([x, y, domain]);
      }
    }
    optimizer.dispose();
    discriminator.forEach((l) => l.dispose());
    return predictFeatureMatrix(model, heldOut, dim);
  };
}
