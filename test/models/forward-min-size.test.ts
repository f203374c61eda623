// Every architecture runs forward at its minimum input size (batch 1, wasm backend) and produces
// finite, input-dependent features of the right width; and the classifier head at that size.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../stages/tf/backend.js';
import { getArchitecture } from '../../stages/models/registry.js';

/** [arch, feature width] */
const ARCHS: Array<[string, number]> = [
  ['vgg16', 512],
  ['vgg19', 512],
  ['resnet50', 2048],
  ['inception_v3', 2048],
  ['xception', 2048],
  ['densenet121', 1024],
  ['densenet169', 1664],
  ['densenet201', 1920],
  ['mobilenet_v1_0.25', 256],
  ['small_cnn', 256],
];

/**
 * Deterministic He-uniform-like kernels from a sine hash computed on the backend (random
 * initialisation of ~20 M values in JS would dominate the test); batch-norm layers keep their
 * neutral defaults.
 */
function fillKernels(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (layer.getClassName() === 'BatchNormalization' || layer.weights.length === 0) continue;
    const values = layer.weights.map((w, i) =>
      tf.tidy(() => {
        const shape = w.shape as number[];
        const size = shape.reduce((a, b) => a * b, 1);
        // Depthwise kernels [h, w, channels, 1] see h*w inputs per output.
        const depthwise = shape.length === 4 && shape[3] === 1;
        const fanIn = depthwise ? shape[0]! * shape[1]! : shape.length > 1 ? size / shape[shape.length - 1]! : 1;
        const hashed = tf.sin(tf.range(0, size).mul(12.9898).add(78.233 * (i + 1))).mul(43758.5453);
        const uniform = hashed.sub(hashed.floor()); // [0, 1)
        return uniform.sub(0.5).mul(2 * Math.sqrt(6 / fanIn)).reshape(shape);
      }),
    );
    layer.setWeights(values);
    tf.dispose(values);
  }
}

test.before(async () => {
  await initBackend({ prefer: 'wasm', quiet: true });
});

for (const [arch, width] of ARCHS) {
  test(`${arch} runs forward at its minimum input size`, async () => {
    const spec = await getArchitecture(arch);
    const size = spec.minInputSize;
    const model = spec.build([size, size, 3], { includeTop: false, pooling: 'avg', initialWeights: 'zeros' });
    fillKernels(model);
    const a = tf.tidy(() => tf.sin(tf.range(0, size * size * 3)).reshape([1, size, size, 3]));
    const b = tf.tidy(() => tf.cos(tf.range(0, size * size * 3).mul(1.3)).reshape([1, size, size, 3]));
    const [fa, fb] = [model.predict(a) as tf.Tensor, model.predict(b) as tf.Tensor];
    assert.equal(fa.shape, [1, width]);
    const va = fa.dataSync();
    const vb = fb.dataSync();
    assert.ok(va.every(Number.isFinite), 'finite features');
    assert.ok(Math.max(...va) > Math.min(...va), 'features are not constant');
    assert.ok(va.some((v, i) => Math.abs(v - vb[i]!) > 1e-6), 'features depend on the input');
    tf.dispose([a, b, fa, fb]);
    model.dispose();
  });
}

test('a classifier head of 4 classes at the minimum size gives probabilities', async () => {
  const spec = await getArchitecture('densenet121');
  const model = spec.build([32, 32, 3], { classes: 4, initialWeights: 'zeros' });
  fillKernels(model);
  const y = model.predict(tf.ones([2, 32, 32, 3])) as tf.Tensor;
  assert.equal(y.shape, [2, 4]);
  const sums = y.sum(1).dataSync();
  assert.ok(Math.abs(sums[0]! - 1) < 1e-5 && Math.abs(sums[1]! - 1) < 1e-5);
  model.dispose();
});

test.run();
