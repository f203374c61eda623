// The fused gradients (stages/tf/fused-gradients.ts) and the copy kernels (Slice, Cast) on wasm give
// exactly what tfjs's own formulas and kernels give — bit for bit, on awkward values too — and a
// training step with them changes no weight's bits and leaks nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../stages/tf/backend.js';
import { setFusedGradients } from '../../stages/tf/fused-gradients.js';
import { stockKernel } from '../../stages/tf/wasm-kernel-utils.js';
import { mulberry32 } from '../../stages/lib/random.js';

await initBackend({ prefer: 'wasm', quiet: true });

const bits = (t: tf.Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));

function sameBits(name: string, a: tf.Tensor[], b: tf.Tensor[]): void {
  assert.is(a.length, b.length, name);
  a.forEach((t, i) => {
    const x = bits(t);
    const y = bits(b[i]!);
    const differing = x.filter((v, k) => v !== y[k]).length;
    assert.is(differing, 0, `${name}, gradient ${i}: ${differing} of ${x.length} values differ`);
  });
}

/** Gradients of f with tfjs's formulas and with the fused ones. */
function both(f: (...xs: tf.Tensor[]) => tf.Scalar, xs: tf.Tensor[]): [tf.Tensor[], tf.Tensor[]] {
  setFusedGradients(false);
  const reference = tf.grads(f)(xs);
  setFusedGradients(true);
  const fused = tf.grads(f)(xs);
  return [reference, fused];
}

// Values with zeros of both signs, NaN, infinities and the ReLU6 bounds among them.
const special = [0, -0, NaN, Infinity, -Infinity, 6, -6, 1e-30, 3.5, 6.0000005];
const x = tf.tidy(() => {
  const v = Float32Array.from({ length: 4 * 7 * 5 * 12 }, (_, i) => Math.sin(i * 1.7) * 9);
  special.forEach((s, i) => (v[i * 37] = s));
  return tf.keep(tf.tensor4d(v, [4, 7, 5, 12]));
});
const weights = tf.keep(tf.randomUniform([4, 7, 5, 12], -1, 1, 'float32', 2));

test('ReLU, ReLU6, Square and Mean gradients: the bits of tfjs\'s formulas', () => {
  const cases: Record<string, (a: tf.Tensor) => tf.Scalar> = {
    relu: (a) => tf.sum(tf.mul(tf.relu(a), weights)),
    relu6: (a) => tf.sum(tf.mul(tf.clipByValue(a, 0, 6), weights)),
    square: (a) => tf.sum(tf.mul(tf.square(a), weights)),
    'mean over N, H, W': (a) => tf.sum(tf.mul(tf.mean(a, [0, 1, 2]), tf.range(0, 12))),
    'mean over H, W': (a) => tf.sum(tf.mul(tf.mean(a, [1, 2]), tf.range(0, 12))),
    'mean over all': (a) => tf.mean(tf.mul(a, weights)),
  };
  for (const [name, f] of Object.entries(cases)) {
    const [reference, fused] = both(f, [x]);
    sameBits(name, reference, fused);
  }
});

test('batch normalisation in training mode (moments → FusedBatchNorm): all five gradients, rank 4 and rank 2', () => {
  const finite = tf.randomUniform([6, 9, 9, 20], -3, 3, 'float32', 5);
  const w = tf.randomUniform([6, 9, 9, 20], -1, 1, 'float32', 6);
  const gamma = tf.randomUniform([20], 0.5, 1.5, 'float32', 3);
  const beta = tf.randomUniform([20], -1, 1, 'float32', 4);
  const bn = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, weight: tf.Tensor, axes: number[]): tf.Scalar => {
    const { mean, variance } = tf.moments(a, axes);
    return tf.sum(tf.mul(tf.batchNorm(a, mean, variance, b, g, 1e-3), weight)) as tf.Scalar;
  };
  const [r4, f4] = both((a, g, b) => bn(a!, g!, b!, w, [0, 1, 2]), [finite, gamma, beta]);
  sameBits('rank 4', r4, f4);
  const flat = tf.reshape(finite, [486, 20]);
  const wFlat = tf.reshape(w, [486, 20]);
  const [r2, f2] = both((a, g, b) => bn(a!, g!, b!, wFlat, [0]), [flat, gamma, beta]);
  sameBits('rank 2', r2, f2);
});

function mobileNetBlock(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const input = tf.input({ shape: [20, 20, 3] });
  let h = tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]] }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, useBias: false, kernelInitializer: init(1) }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization().apply(h) as tf.SymbolicTensor;
  h = tf.layers.reLU({ maxValue: 6 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: init(2) }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization().apply(h) as tf.SymbolicTensor;
  h = tf.layers.activation({ activation: 'relu' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dropout({ rate: 0.3 }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: init(3) }).apply(h) as tf.SymbolicTensor });
}

test('training steps of a MobileNet-style block: the same weights bit for bit with and without the fused gradients, nothing leaked', async () => {
  const xs = tf.randomUniform([5, 20, 20, 3], -1, 1, 'float32', 8);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0], 'int32'), 4);
  const results: tf.Tensor[][] = [];
  const unseeded = Math.random;
  try {
    for (const fused of [false, true]) {
      setFusedGradients(fused);
      const model = mobileNetBlock();
      model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
      Math.random = mulberry32(11); // dropout masks
      await model.trainOnBatch(xs, ys);
      const tensors = tf.memory().numTensors;
      const buffers = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
      for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
      assert.is(tf.memory().numTensors, tensors, 'engine tensors');
      assert.is((tf.backend() as unknown as { numDataIds(): number }).numDataIds(), buffers, 'wasm heap buffers');
      results.push(model.getWeights().map((w) => w.clone()));
      model.dispose();
    }
  } finally {
    Math.random = unseeded;
    setFusedGradients(true);
  }
  sameBits('weights after 4 steps', results[0]!, results[1]!);
});

test('fused conv2d in training (linear, with and without bias, same and valid, stride 1 and 2): the bits of tfjs\'s gradients', () => {
  const input = tf.randomUniform([3, 9, 11, 5], -2, 2, 'float32', 11);
  const filter = tf.randomUniform([3, 3, 5, 7], -1, 1, 'float32', 12);
  const bias = tf.randomUniform([7], -1, 1, 'float32', 13);
  const mix = tf.randomUniform([3, 9, 11, 7], -1, 1, 'float32', 14);
  for (const pad of ['same', 'valid'] as const) {
    for (const strides of [1, 2] as const) {
      const loss = (y: tf.Tensor) => tf.sum(tf.mul(y, tf.slice(mix, [0, 0, 0, 0], y.shape))) as tf.Scalar;
      const withBias = both((a, f, b) => loss(tf.fused.conv2d({ x: a as tf.Tensor4D, filter: f as tf.Tensor4D, bias: b, strides, pad })), [input, filter, bias]);
      sameBits(`${pad}, stride ${strides}, bias`, ...withBias);
      const noBias = both((a, f) => loss(tf.fused.conv2d({ x: a as tf.Tensor4D, filter: f as tf.Tensor4D, strides, pad })), [input, filter]);
      sameBits(`${pad}, stride ${strides}, no bias`, ...noBias);
      tf.dispose([...withBias.flat(), ...noBias.flat()]);
    }
  }
  tf.dispose([input, filter, bias, mix]);
});

test('a first conv layer\'s input gradient, which nothing uses, is no longer computed; its weights\' gradients are the same bits', async () => {
  const model = tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 8, kernelSize: 3, padding: 'same', useBias: true, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    tf.layers.globalAveragePooling2d({}),
    tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
  ] });
  const images = tf.randomUniform([4, 12, 12, 3], 0, 1, 'float32', 15);
  const weightsOf = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const step = async (fused: boolean) => {
    setFusedGradients(fused);
    let grads: tf.Tensor[] = [];
    const profile = await tf.profile(() => {
      const { grads: g } = tf.variableGrads(() => tf.sum(model.predict(images) as tf.Tensor) as tf.Scalar, weightsOf);
      grads = weightsOf.map((w) => tf.keep(g[w.name]!));
    });
    setFusedGradients(true);
    return { grads, kernels: profile.kernelNames };
  };
  const reference = await step(false);
  const lazy = await step(true);
  assert.ok(reference.kernels.includes('Conv2DBackpropInput'), 'tfjs\'s own gradient computes the input gradient');
  assert.not.ok(lazy.kernels.includes('Conv2DBackpropInput'), 'the lazy gradient skips it');
  assert.ok(lazy.kernels.includes('Conv2DBackpropFilter'));
  sameBits('first-layer weights', reference.grads, lazy.grads);
  tf.dispose([...reference.grads, ...lazy.grads, images]);
  model.dispose();
});

test('Slice: block copies equal the stock kernel on slices of rank 2–5, and small or scattered slices still work', () => {
  const stock = stockKernel('Slice')!;
  const backend = tf.backend();
  const cases: Array<[number[], number[], number[]]> = [
    [[16, 65, 65, 16], [0, 1, 1, 0], [16, 64, 64, 16]],  // gradient of a ZeroPadding2D
    [[4, 33, 33, 32], [0, 0, 0, 0], [4, 32, 32, 32]],
    [[3, 10, 12, 8], [1, 2, 0, 0], [2, 5, 12, 8]],
    [[3, 10, 12, 8], [0, 0, 0, 3], [3, 10, 12, 4]],      // inner axis cut: nothing to merge
    [[200, 70], [5, 0], [100, 70]],
    [[2, 3, 4, 5, 40], [1, 1, 1, 0, 0], [1, 2, 3, 5, 40]],
  ];
  for (const [shape, begin, size] of cases) {
    for (const dtype of ['float32', 'int32'] as const) {
      const t = tf.tidy(() => tf.cast(tf.mul(tf.randomUniform(shape, -100, 100, 'float32', 9), 1), dtype));
      const ours = tf.slice(t, begin, size);
      const info = stock({ inputs: { x: t }, backend, attrs: { begin, size } }) as tf.TensorInfo;
      const reference = tf.engine().makeTensorFromTensorInfo(info);
      assert.equal(ours.shape, size);
      assert.equal(Array.from(ours.dataSync()), Array.from(reference.dataSync()), `slice of [${shape}] at [${begin}] size [${size}] (${dtype})`);
      tf.dispose([t, ours, reference]);
    }
  }
});

test('Cast to the same dtype shares the buffer and outlives its input; other casts convert', () => {
  const a = tf.tensor1d([1.5, -2.25, NaN]);
  const same = tf.cast(a, 'float32');
  const asInt = tf.cast(a, 'int32');
  a.dispose();
  assert.equal(Array.from(same.dataSync()), [1.5, -2.25, NaN]);
  assert.equal(Array.from(asInt.dataSync()).slice(0, 2), [1, -2]);
  tf.dispose([same, asInt]);
});


test('batch normalisation layers in training (rank 4 and 2): one fused kernel each where the input has no other consumer, tfjs\'s ops where it has; the same weights bit for bit', async () => {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  // conv → BN (sole consumer: fused) and a DenseNet-style concatenation that feeds both a BN and the next concatenation (not fused).
  const build = () => {
    const input = tf.input({ shape: [10, 10, 3] });
    const conv = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(21) }).apply(input) as tf.SymbolicTensor;
    const a = tf.layers.activation({ activation: 'relu' }).apply(tf.layers.batchNormalization({ name: 'sole_bn' }).apply(conv)) as tf.SymbolicTensor;
    const cat = tf.layers.concatenate().apply([a, input]) as tf.SymbolicTensor;
    const b = tf.layers.batchNormalization({ name: 'shared_bn' }).apply(cat) as tf.SymbolicTensor;
    const next = tf.layers.concatenate().apply([b, cat]) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(next) as tf.SymbolicTensor;
    // A rank-2 batch norm, as in the heads on cached features (sole consumer: fused).
    const hidden = tf.layers.dense({ units: 6, kernelInitializer: init(24) }).apply(pooled) as tf.SymbolicTensor;
    const normed = tf.layers.batchNormalization({ name: 'head_bn' }).apply(hidden) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: init(22) }).apply(normed) as tf.SymbolicTensor });
  };
  const xs = tf.randomUniform([6, 10, 10, 3], -1, 1, 'float32', 23);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1], 'int32'), 4);
  const results: tf.Tensor[][] = [];
  const fusedCalls: number[] = [];
  try {
    for (const fused of [false, true]) {
      setFusedGradients(fused);
      const model = build();
      model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
      const profile = await tf.profile(async () => { await model.trainOnBatch(xs, ys); });
      fusedCalls.push(profile.kernels.filter((k) => k.name === 'LeukopipeBatchNormTraining').length);
      for (let i = 0; i < 2; i++) await model.trainOnBatch(xs, ys);
      results.push(model.getWeights().map((w) => w.clone()));
      model.dispose();
    }
  } finally {
    setFusedGradients(true);
  }
  assert.equal(fusedCalls, [0, 2], 'fused batch-norm kernels run in a step (tfjs path, leukopipe path)');
  sameBits('weights after 3 steps (moving statistics included)', results[0]!, results[1]!);
});

test.run();
