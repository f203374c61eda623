// AdaBN on a folder (pipe predict --adapt): only the feature standardisation (a BatchNormalization of
// pooled vectors) takes the folder's statistics; convolutional BatchNormalization keeps its own.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { adaptFeatureStandardizations, featureStandardizations } from '../../stages/lib/classifier/folder-adaptation.js';
import { adaptToFolder, MIN_ADAPT_IMAGES, parsePredictArgs } from '../../stages/predict.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

function model() {
  const input = tf.input({ shape: [4, 4, 3] });
  let x = tf.layers.conv2d({ filters: 2, kernelSize: 1, kernelInitializer: 'ones', useBias: false, name: 'conv' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'conv_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'features_bn' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, activation: 'softmax', name: 'predictions' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** A flat 4×4 image of one grey level. */
const flat = (v: number) => new Uint8Array(4 * 4 * 3).fill(v);

test('the feature standardisation takes the population mean and variance of the pooled vectors; conv BatchNormalization is left alone', async () => {
  const m = model();
  assert.equal(featureStandardizations(m).map((l) => l.name), ['features_bn']);
  const convBefore = m.getLayer('conv_bn').getWeights().map((w) => Array.from(w.dataSync()));
  // rescale: v/255; the 1×1 conv of ones sums 3 channels, conv_bn (mean 0, var 1, ε 1e-3) divides by √1.001.
  const images = [51, 102, 153].map(flat);
  const changed = await adaptFeatureStandardizations(m, images, { size: 4, preprocessing: 'rescale', batchSize: 2 });
  assert.equal(changed, ['features_bn']);
  const pooled = [51, 102, 153].map((v) => (3 * v) / 255 / Math.sqrt(1.001));
  const mean = pooled.reduce((a, b) => a + b, 0) / 3;
  const variance = pooled.reduce((a, b) => a + (b - mean) ** 2, 0) / 3;
  const [, , movingMean, movingVariance] = m.getLayer('features_bn').getWeights();
  for (const v of movingMean!.dataSync()) assert.ok(Math.abs(v - mean) < 1e-5, `mean ${v} vs ${mean}`);
  for (const v of movingVariance!.dataSync()) assert.ok(Math.abs(v - variance) < 1e-5, `variance ${v} vs ${variance}`);
  assert.equal(m.getLayer('conv_bn').getWeights().map((w) => Array.from(w.dataSync())), convBefore);
});

test('--adapt: auto adapts from MIN_ADAPT_IMAGES images, none never, adabn always; a bad value is an error naming the flag', async () => {
  const opts = { size: 4, preprocessing: 'rescale' as const, batchSize: 8 };
  const few = Array.from({ length: MIN_ADAPT_IMAGES - 1 }, (_, i) => flat(i * 3));
  const enough = [...few, flat(250)];
  assert.is((await adaptToFolder(model(), few, 'auto', opts)).applied, 'none');
  assert.match((await adaptToFolder(model(), few, 'auto', opts)).summary, /auto adapts from 32/);
  assert.is((await adaptToFolder(model(), enough, 'auto', opts)).applied, 'adabn');
  assert.is((await adaptToFolder(model(), few, 'adabn', opts)).applied, 'adabn');
  assert.is((await adaptToFolder(model(), enough, 'none', opts)).applied, 'none');
  assert.is(parsePredictArgs(['x.png']).adapt, 'auto');
  assert.is(parsePredictArgs(['--adapt', 'none', 'x.png']).adapt, 'none');
  assert.throws(() => parsePredictArgs(['--adapt', 'sometimes', 'x.png']), /--adapt must be auto, adabn or none/);
});

test.run();
