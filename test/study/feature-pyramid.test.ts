import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { getArchitecture } from '../../stages/models/registry.js';
import { pooledPyramid, pyramidTapLayers } from '../../stages/lib/classifier/feature-pyramid.js';
import { layerBefore, splitModel } from '../../stages/lib/classifier/graph-surgery.js';
import { loadModelFromDirectory, saveModelToDirectory } from '../../stages/lib/classifier/model-directory.js';
import { seededReinitialize } from '../../stages/lib/classifier/seeded-init.js';
import { tempDir } from './tiny-images.js';

let root = '';
test.before(async () => {
  await tf.setBackend('cpu');
  root = await tempDir('pyramid');
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

function closeArrays(a: number[][], b: number[][], tolerance: number): void {
  assert.is(a.length, b.length);
  for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i]!.length; j++) assert.ok(Math.abs(a[i]![j]! - b[i]![j]!) <= tolerance, `[${i}][${j}] ${a[i]![j]} vs ${b[i]![j]}`);
}

test('MobileNet at 128 px: the four deepest levels end at blocks 3, 5, 11 and 13; their pools concatenate to 480 values', async () => {
  const spec = await getArchitecture('mobilenet_v1_0.25');
  const base = spec.build([128, 128, 3], { includeTop: false });
  assert.equal(pyramidTapLayers(base, 4), ['conv_pw_3_relu', 'conv_pw_5_relu', 'conv_pw_11_relu', 'conv_pw_13_relu']);
  assert.equal(pyramidTapLayers(base, 1), ['conv_pw_13_relu']);
  assert.is(pyramidTapLayers(base, 99).length, 5); // 64, 32, 16, 8, 4 px
  const pyramid = pooledPyramid(base, pyramidTapLayers(base, 4));
  assert.equal(pyramid.outputs[0]!.shape, [null, 32 + 64 + 128 + 256]);
});

test('ResNet50 and VGG16: levels end at the stage outputs (zero padding never ends a level)', async () => {
  const resnet = (await getArchitecture('resnet50')).build([64, 64, 3], { includeTop: false });
  assert.equal(pyramidTapLayers(resnet, 4), ['conv2_block3_out', 'conv3_block4_out', 'conv4_block6_out', 'conv5_block3_out']);
  const vgg = (await getArchitecture('vgg16')).build([64, 64, 3], { includeTop: false });
  assert.equal(pyramidTapLayers(vgg, 3), ['block4_conv3', 'block5_conv3', 'block5_pool']);
});

test('one level is the Keras avg-pooled base; a pyramid model survives save and load with the same outputs', async () => {
  const spec = await getArchitecture('mobilenet_v1_0.25');
  const plain = spec.build([64, 64, 3], { includeTop: false, pooling: 'avg' });
  const raw = spec.build([64, 64, 3], { includeTop: false });
  seededReinitialize(plain, 3);
  seededReinitialize(raw, 3);
  const x = tf.randomUniform([2, 64, 64, 3], -1, 1, 'float32', 5);
  closeArrays((plain.predict(x) as tf.Tensor).arraySync() as number[][], (pooledPyramid(raw, pyramidTapLayers(raw, 1)).predict(x) as tf.Tensor).arraySync() as number[][], 1e-6);
  const pyramid = pooledPyramid(raw, pyramidTapLayers(raw, 4));
  const dir = join(root, 'saved');
  await saveModelToDirectory(pyramid, dir);
  const loaded = await loadModelFromDirectory(dir);
  closeArrays((pyramid.predict(x) as tf.Tensor).arraySync() as number[][], (loaded.predict(x) as tf.Tensor).arraySync() as number[][], 1e-6);
});

test('splitting a pyramid base before conv_pad_12: the top takes the cut and the shallower levels, and bottom→top equals the whole', async () => {
  const spec = await getArchitecture('mobilenet_v1_0.25');
  const raw = spec.build([64, 64, 3], { includeTop: false });
  seededReinitialize(raw, 4);
  const pyramid = pooledPyramid(raw, pyramidTapLayers(raw, 4));
  const cut = layerBefore(pyramid, 'conv_pad_12');
  assert.is(cut, 'conv_pw_11_relu');
  const { bottom, top } = splitModel(pyramid, cut);
  assert.ok(top.inputs.length >= 2, `top inputs: ${top.inputs.length}`);
  assert.is(top.inputs[0]!.shape[3], 128); // the cut itself comes first
  assert.ok(top.layers.some((l) => l.name === 'conv_dw_13'));
  assert.not.ok(top.layers.some((l) => l.name === 'conv_dw_11'));
  const x = tf.randomUniform([2, 64, 64, 3], -1, 1, 'float32', 6);
  const parts = top.predict(bottom.predict(x) as tf.Tensor[]) as tf.Tensor;
  closeArrays((pyramid.predict(x) as tf.Tensor).arraySync() as number[][], parts.arraySync() as number[][], 1e-5);
});

test.run();
