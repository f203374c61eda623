// Test-time adaptation on a folder (pipe predict --adapt). AdaBN: only the feature standardisation (a
// BatchNormalization of pooled vectors) takes the folder's statistics; convolutional BatchNormalization keeps
// its own. Self-training: only the study head trains, on its own confident labels of the folder.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { adaptFeatureStandardizations, featureStandardizations } from '../../stages/lib/classifier/folder-adaptation.js';
import { adaptToFolder, DEFAULT_ADAPTATION, MIN_ADAPT_IMAGES, parsePredictArgs } from '../../stages/predict.js';
import { studyHead } from '../../stages/lib/classifier/folder-self-training.js';

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

/** conv → pool → the study head by its Keras names (createHeadLayers): BatchNormalization, Dense, Dropout, Dense. */
function studyModel() {
  const input = tf.input({ shape: [4, 4, 3] });
  let x = tf.layers.conv2d({ filters: 3, kernelSize: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), name: 'conv' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'head_standardize' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 8, activation: 'relu', name: 'head_dense', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.5, name: 'head_dropout' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, activation: 'softmax', name: 'head_predictions', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** A 4×4 image of one colour. */
const colour = (r: number, g: number, b: number) => Uint8Array.from({ length: 48 }, (_, i) => [r, g, b][i % 3]!);

test('self-training trains only the head, towards confident labels of the folder; auto follows what the study kept', async () => {
  const opts = { size: 4, preprocessing: 'rescale' as const, batchSize: 8 };
  // Two kinds of cell: reddish and bluish, 20 of each with small variations.
  const images = Array.from({ length: 40 }, (_, i) => (i % 2 ? colour(200 + (i % 7), 60, 80) : colour(60, 80, 200 + (i % 5))));
  const m = studyModel();
  assert.equal(studyHead(m)!.map((l) => l.name), ['head_standardize', 'head_dense', 'head_dropout', 'head_predictions']);
  const convBefore = m.getLayer('conv').getWeights().map((w) => Array.from(w.dataSync()));
  const denseBefore = Array.from(m.getLayer('head_dense').getWeights()[0]!.dataSync());
  const confidence = () => tf.tidy(() => (m.predict(tf.tensor4d(Float32Array.from(images.flatMap((im) => [...im].map((v) => v / 255))), [40, 4, 4, 3])) as tf.Tensor).max(1).mean().dataSync()[0]!);
  const before = confidence();
  const kept = { ...DEFAULT_ADAPTATION, selfTraining: { rounds: 2, portion: 0.5, epochs: 20, learningRate: 0.01 }, from: 'a test study' };
  const result = await adaptToFolder(m, images, 'auto', opts, kept);
  assert.is(result.applied, 'self-training');
  assert.equal(result.layers, ['head_standardize', 'head_dense', 'head_dropout', 'head_predictions']);
  assert.match(result.summary, /2 rounds, the last taking 50 % of each predicted class; kept by a test study/);
  assert.equal(m.getLayer('conv').getWeights().map((w) => Array.from(w.dataSync())), convBefore, 'the backbone is left alone');
  assert.not.equal(Array.from(m.getLayer('head_dense').getWeights()[0]!.dataSync()), denseBefore);
  const after = confidence();
  assert.ok(after > before, `the head grows surer of the folder's cells: mean top probability ${before} → ${after}`);
  // auto follows the study: AdaBN where it kept AdaBN, nothing where it kept nothing.
  assert.is((await adaptToFolder(studyModel(), images, 'auto', opts, { ...kept, adapt: 'adabn' })).applied, 'adabn');
  assert.match((await adaptToFolder(studyModel(), images, 'auto', opts, { ...kept, adapt: 'none' })).summary, /a test study kept no test-time adaptation/);
  // A model without the study head: forced self-training says why; auto falls back to AdaBN.
  assert.match((await adaptToFolder(model(), images, 'self-training', opts)).summary, /no study head/);
  assert.is((await adaptToFolder(model(), images, 'auto', opts)).applied, 'adabn');
});

test('self-training with views: each image\'s variants, made with the study\'s augment settings, join it; its result is the mean over them', async () => {
  const opts = { size: 4, preprocessing: 'rescale' as const, batchSize: 8 };
  const images = Array.from({ length: 12 }, (_, i) => (i % 2 ? colour(200 + i, 60, 80) : colour(60, 80, 200 + i)));
  // A view: the image a little darker (k = 0) or lighter (k = 1).
  const view = (k: number) => images.map((im) => im.map((v) => Math.max(0, Math.min(255, v + (k ? 20 : -20)))));
  const settings = { variants: 4, seed: 1, rotation: 20, widthShift: 0.1, heightShift: 0.1, shear: 0.2, horizontalFlip: true, verticalFlip: true, fill: 'white' as const };
  const calls: [unknown, number][] = [];
  const makeViews = async (s: unknown, count: number) => (calls.push([s, count]), Array.from({ length: count }, (_, k) => async () => view(k)));
  const kept = { ...DEFAULT_ADAPTATION, selfTraining: { rounds: 2, portion: 0.5, epochs: 3, learningRate: 0.01, views: 2 }, views: settings, from: 'a test study' };
  const m = studyModel();
  const result = await adaptToFolder(m, images, 'self-training', { ...opts, makeViews }, kept);
  assert.equal(calls, [[settings, 2]], 'the views are made once, with the study\'s settings and count');
  assert.match(result.summary, /each image with 2 augmented variants of it/);
  // The result: the adapted model's probabilities averaged over the image and its two views.
  const predict = (list: Uint8Array[]) => tf.tidy(() => (m.predict(tf.tensor4d(Float32Array.from(list.flatMap((im) => [...im].map((v) => v / 255))), [list.length, 4, 4, 3])) as tf.Tensor).arraySync() as number[][]);
  const [own, dark, light] = [predict(images), predict(view(0)), predict(view(1))];
  assert.is(result.probabilities!.length, images.length);
  result.probabilities!.forEach((p, i) => p.forEach((v, c) => assert.ok(Math.abs(v - (own[i]![c]! + dark[i]![c]! + light[i]![c]!) / 3) < 1e-5, `image ${i} class ${c}`)));
  // A study without views (or none recorded): the images alone, no views made, the model's own result.
  calls.length = 0;
  const alone = await adaptToFolder(studyModel(), images, 'self-training', { ...opts, makeViews }, { ...kept, views: null });
  assert.equal(calls, []);
  assert.is(alone.probabilities, undefined);
  assert.not.match(alone.summary, /augmented variants/);
});

test('labelled cells ask for self-training: auto self-trains with them whatever the study kept; a model that cannot self-train is an error', async () => {
  const opts = { size: 4, preprocessing: 'rescale' as const, batchSize: 8 };
  const images = Array.from({ length: 40 }, (_, i) => (i % 2 ? colour(200 + (i % 7), 60, 80) : colour(60, 80, 200 + (i % 5))));
  const labelled = { images: [colour(205, 60, 80), colour(60, 80, 203)], labels: [1, 0] };
  const kept = { ...DEFAULT_ADAPTATION, adapt: 'adabn' as const, selfTraining: { rounds: 2, portion: 0.5, epochs: 3, learningRate: 0.01 }, from: 'a test study' };
  const result = await adaptToFolder(studyModel(), images, 'auto', { ...opts, labelled }, kept);
  assert.is(result.applied, 'self-training');
  assert.is(result.labelledImages, 2);
  assert.match(result.summary, /every round also on 2 labelled cells of the lab with their classes/);
  assert.is((await adaptToFolder(studyModel(), images, 'auto', opts, kept)).applied, 'adabn', 'without labels auto follows the study');
  const error = await adaptToFolder(model(), images, 'auto', { ...opts, labelled }).catch((e: Error) => e);
  assert.match(String(error), /--labelled: the model has no study head .* only self-training uses labelled cells/);
});

test('--adapt: auto adapts from MIN_ADAPT_IMAGES images, none never, adabn and self-training always; a bad value is an error naming the flag', async () => {
  const opts = { size: 4, preprocessing: 'rescale' as const, batchSize: 8 };
  const few = Array.from({ length: MIN_ADAPT_IMAGES - 1 }, (_, i) => flat(i * 3));
  const enough = [...few, flat(250)];
  assert.is((await adaptToFolder(model(), few, 'auto', opts)).applied, 'none');
  assert.match((await adaptToFolder(model(), few, 'auto', opts)).summary, /auto adapts from 32/);
  assert.is((await adaptToFolder(model(), enough, 'auto', opts)).applied, 'adabn');
  assert.is((await adaptToFolder(model(), few, 'adabn', opts)).applied, 'adabn');
  assert.is((await adaptToFolder(studyModel(), few, 'auto', opts)).applied, 'none');
  assert.is((await adaptToFolder(studyModel(), few.slice(0, 4), 'self-training', opts)).applied, 'self-training');
  assert.is((await adaptToFolder(model(), enough, 'none', opts)).applied, 'none');
  assert.is(parsePredictArgs(['x.png']).adapt, 'auto');
  assert.is(parsePredictArgs(['--adapt', 'none', 'x.png']).adapt, 'none');
  assert.is(parsePredictArgs(['--adapt', 'self-training', 'x.png']).adapt, 'self-training');
  assert.throws(() => parsePredictArgs(['--adapt', 'sometimes', 'x.png']), /--adapt must be auto, self-training, adabn or none/);
});

test.run();
