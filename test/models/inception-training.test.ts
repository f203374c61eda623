// Keras' InceptionV3 has BatchNormalization without gamma; tfjs-layers cannot train such a layer
// unpatched. One training step from scratch must run and change the weights.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../stages/tf/backend.js';
import { getArchitecture } from '../../stages/models/registry.js';

test('InceptionV3 (BN without scale) trains one step from scratch at its minimum input', async () => {
  await initBackend({ prefer: 'wasm' });
  const spec = await getArchitecture('inception_v3');
  const model = spec.build([75, 75, 3], { includeTop: true, classes: 4 });
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
  const kernel = model.getLayer('conv2d').getWeights()[0]!;
  const before = kernel.dataSync().slice();
  const x = tf.randomUniform([2, 75, 75, 3], -1, 1, 'float32', 7);
  const y = tf.oneHot(tf.tensor1d([0, 3], 'int32'), 4);
  const history = await model.fit(x, y, { epochs: 1, batchSize: 2, verbose: 0 });
  const loss = history.history['loss']![0] as number;
  assert.ok(Number.isFinite(loss), `loss ${loss}`);
  const after = model.getLayer('conv2d').getWeights()[0]!.dataSync();
  assert.ok(after.some((v, i) => v !== before[i]), 'the first conv kernel changed');
  // The moving statistics were updated in training mode, as Keras does.
  const bn = model.getLayer('batch_normalization');
  const movingMean = bn.getWeights()[bn.weights.findIndex((w) => w.name.includes('moving_mean'))]!.dataSync();
  assert.ok(movingMean.some((v) => v !== 0));
});

test.run();
