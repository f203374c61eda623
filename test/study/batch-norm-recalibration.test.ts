import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import type { Batch, BatchSource } from '../../stages/lib/classifier/batch-source.js';
import { recalibrateBatchNorm } from '../../stages/lib/classifier/batch-norm-recalibration.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** Batches of 3-value inputs whose channel c is c·10 + batchIndex (+ ±1 within a batch). */
function source(batches: number, consumed: number[]): BatchSource {
  return {
    count: batches * 4,
    batchSize: 4,
    async *batches() {
      for (let b = 0; b < batches; b++) {
        consumed.push(b);
        const rows = [-1, 1, -1, 1].map((d) => [0, 1, 2].map((c) => c * 10 + b + d));
        yield { x: tf.tensor2d(rows), y: tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 0, 1], 'int32'), 2).toFloat() as tf.Tensor2D), size: 4 } satisfies Batch;
      }
    },
  };
}

test('moving statistics become the average batch statistics of the first N batches; later batches are not read; no tensor leaks', async () => {
  const input = tf.input({ shape: [3] });
  const bn = tf.layers.batchNormalization({ name: 'bn' });
  const output = tf.layers.dense({ units: 2, activation: 'softmax' }).apply(bn.apply(input)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output });
  await recalibrateBatchNorm(model, source(10, []), { batches: 3, seed: 1 }); // first call: tfjs's own caches
  const consumed: number[] = [];
  const before = tf.memory().numTensors;
  const updated = await recalibrateBatchNorm(model, source(10, consumed), { batches: 3, seed: 1 });
  assert.is(updated, 1);
  assert.equal(consumed, [0, 1, 2]);
  const leaked = tf.memory().numTensors - before;
  const [, , movingMean, movingVariance] = bn.getWeights();
  // Batch b has channel mean c·10 + b, variance 1: the average over b = 0, 1, 2.
  const mean = Array.from(movingMean!.dataSync());
  const variance = Array.from(movingVariance!.dataSync());
  [1, 11, 21].forEach((m, c) => assert.ok(Math.abs(mean[c]! - m) < 1e-5, `mean[${c}] = ${mean[c]}`));
  variance.forEach((v, c) => assert.ok(Math.abs(v - 1) < 1e-5, `variance[${c}] = ${v}`));
  assert.is(leaked, 0);
});

test('a BatchNormalization layer shared by two models (a fine-tuned top shares the base\'s layers) is measured on the model\'s own input', async () => {
  const bn = tf.layers.batchNormalization({ name: 'shared_bn' });
  const a = tf.input({ shape: [3] });
  tf.model({ inputs: a, outputs: bn.apply(a) as tf.SymbolicTensor }); // first use: inbound node 0
  const b = tf.input({ shape: [3] });
  const same = tf.layers.dense({ units: 3, useBias: false, kernelInitializer: 'identity', trainable: false }).apply(b) as tf.SymbolicTensor;
  const top = tf.model({ inputs: b, outputs: tf.layers.dense({ units: 2, activation: 'softmax' }).apply(bn.apply(same)) as tf.SymbolicTensor });
  assert.is(bn.inboundNodes.length, 2);
  assert.is(await recalibrateBatchNorm(top, source(4, []), { batches: 2, seed: 1 }), 1);
  const mean = Array.from(bn.getWeights()[2]!.dataSync());
  [0.5, 10.5, 20.5].forEach((m, c) => assert.ok(Math.abs(mean[c]! - m) < 1e-4, `mean[${c}] = ${mean[c]}`));
});

test('a model without BatchNormalization is left alone and no batch is read', async () => {
  const input = tf.input({ shape: [3] });
  const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(input) as tf.SymbolicTensor });
  const consumed: number[] = [];
  assert.is(await recalibrateBatchNorm(model, source(5, consumed), { batches: 3, seed: 1 }), 0);
  assert.equal(consumed, []);
});

test.run();
