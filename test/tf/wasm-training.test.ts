// A real training loop on wasm with leukopipe's kernels: model.fit of a conv + depthwise net runs
// (stock wasm throws), gives the same losses as the cpu backend from the same weights, and leaks
// neither engine tensors nor wasm heap buffers from one step to the next.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../stages/tf/backend.js';
import { fusedAdam } from '../../stages/tf/fused-adam-optimizer.js';
import { ADAM_UPDATE } from '../../stages/tf/kernels/adam-update.js';
import { mulberry32 } from '../../stages/lib/random.js';

await initBackend({ prefer: 'wasm', quiet: true });

// Seeded kernels: with tfjs's unseeded defaults, whether three epochs lower the loss depended on the draw.
function buildNet(): tf.LayersModel {
  const seeded = (seed: number) => tf.initializers.glorotUniform({ seed });
  const input = tf.input({ shape: [16, 16, 3] });
  let x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: seeded(1) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2, depthwiseInitializer: seeded(2) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 8, kernelSize: 1, activation: 'relu', kernelInitializer: seeded(3) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'valid', activation: 'relu', kernelInitializer: seeded(4) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: seeded(5) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

async function trainLosses(backend: string, weights: Float32Array[], shapes: number[][]): Promise<number[]> {
  await tf.setBackend(backend);
  const model = buildNet();
  model.setWeights(weights.map((w, i) => tf.tensor(w, shapes[i])));
  model.compile({ optimizer: tf.train.sgd(0.05), loss: 'categoricalCrossentropy' });
  const xs = tf.tensor4d(Float32Array.from({ length: 6 * 16 * 16 * 3 }, (_, i) => Math.sin(i * 0.37)), [6, 16, 16, 3]);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1], 'int32'), 4);
  const history = await model.fit(xs, ys, { epochs: 3, batchSize: 3, shuffle: false, verbose: 0 });
  tf.dispose([xs, ys]);
  model.dispose();
  return history.history.loss as number[];
}

test('model.fit of a conv + depthwise net on wasm matches cpu losses', async () => {
  await tf.setBackend('cpu');
  const template = buildNet();
  const weights = template.getWeights().map((w) => Float32Array.from(w.dataSync()));
  const shapes = template.getWeights().map((w) => w.shape);
  template.dispose();
  const cpu = await trainLosses('cpu', weights, shapes);
  const wasm = await trainLosses('wasm', weights, shapes);
  assert.is(wasm.length, 3);
  for (let i = 0; i < cpu.length; i++) {
    assert.ok(Math.abs(wasm[i]! - cpu[i]!) < 1e-4 * Math.max(1, Math.abs(cpu[i]!)), `epoch ${i}: wasm ${wasm[i]} vs cpu ${cpu[i]}`);
  }
  assert.ok(wasm[2]! < wasm[0]!, 'the loss goes down');
});

test('tensor and wasm buffer counts do not grow over a training loop', async () => {
  await tf.setBackend('wasm');
  const model = buildNet();
  const optimizer = tf.train.adam(0.01);
  const xs = tf.randomNormal([4, 16, 16, 3]);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 4);
  const step = () => optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.predict(xs) as tf.Tensor), false);
  step(); step(); // optimizer slots exist after the first step
  const tensors = tf.memory().numTensors;
  const buffers = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
  for (let i = 0; i < 5; i++) step();
  assert.is(tf.memory().numTensors, tensors, 'engine tensors');
  assert.is((tf.backend() as unknown as { numDataIds(): number }).numDataIds(), buffers, 'wasm heap buffers');
});

test('the fused Adam update gives the bits of tfjs\'s Adam (weights and moments), learning rate changing per step', async () => {
  await tf.setBackend('wasm');
  const run = async (optimizer: tf.Optimizer, learningRate = 0.01) => {
    const input = tf.input({ shape: [24] });
    let x = tf.layers.batchNormalization({}).apply(input) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dropout({ rate: 0.5 }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }).apply(x) as tf.SymbolicTensor });
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const xs = tf.tensor2d(Float32Array.from({ length: 8 * 24 }, (_, i) => Math.sin(i * 0.71) * 3), [8, 24]);
    const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32'), 4);
    const unseeded = Math.random;
    Math.random = mulberry32(11); // dropout masks
    try {
      for (let step = 0; step < 6; step++) {
        (optimizer as unknown as { learningRate: number }).learningRate = learningRate / (1 + 0.3 * step);
        await model.trainOnBatch(xs, ys);
      }
    } finally {
      Math.random = unseeded;
    }
    const weights = model.getWeights().map((w) => Array.from(new Uint32Array(Float32Array.from(w.dataSync()).buffer)));
    const moments = (await optimizer.getWeights()).map((w) => Array.from(new Uint32Array(Float32Array.from(w.tensor.dataSync()).buffer)));
    tf.dispose([xs, ys]);
    model.dispose();
    return { weights, moments };
  };
  const stock = await run(tf.train.adam(0.01));
  const fused = await run(fusedAdam(0.01));
  assert.equal(fused.moments.length, stock.moments.length);
  assert.equal(fused.weights, stock.weights, 'weights differ');
  assert.equal(fused.moments, stock.moments, 'optimizer moments differ');
  assert.ok(tf.getKernel(ADAM_UPDATE, 'wasm'), 'the fused kernel is registered, so the fused path ran');
  // weights[4] is the first Dense kernel (after the BatchNormalization's four).
  assert.not.equal(stock.weights[4], (await run(tf.train.adam(0.02), 0.02)).weights[4], 'another learning rate changes the weights');
});

test.run();
