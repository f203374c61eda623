// The shipped ImageNet weights (MobileNet v1 α=0.25 and α=0.75, ResNet50 with float16 kernels), loaded
// by layer name into our own models, must put real photographs into the right ImageNet classes (photos: Debian's darknet package, see
// data/imagenet-samples/PROVENANCE.md and COPYRIGHT-debian-darknet).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../stages/tf/backend.js';
import { getArchitecture } from '../../stages/models/registry.js';
import { loadImagenetWeights } from '../../stages/models/imagenet-weights.js';
import { loadKerasH5Weights, writeKerasH5Weights } from '../../stages/models/keras-h5.js';
import { preprocess } from '../../stages/models/preprocessing.js';

const workspace = path.resolve(import.meta.dirname, '../..');

async function photo(name: string, size: number): Promise<tf.Tensor4D> {
  const { data, info } = await sharp(path.join(workspace, 'data/imagenet-samples', name))
    .removeAlpha()
    .resize(size, size, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return tf.tensor4d(Float32Array.from(data), [1, info.height, info.width, 3]);
}

function topK(probabilities: Float32Array, k: number): number[] {
  return [...probabilities.keys()].sort((a, b) => probabilities[b]! - probabilities[a]!).slice(0, k);
}

async function classifier(arch: string) {
  const spec = await getArchitecture(arch);
  const model = spec.build([224, 224, 3], { initialWeights: 'zeros' });
  const report = await loadImagenetWeights(model, spec, { workspace });
  const classify = async (name: string) => {
    const pixels = await photo(name, 224);
    const x = preprocess(pixels, spec.preprocessing);
    const y = model.predict(x) as tf.Tensor;
    const probabilities = (await y.data()) as Float32Array;
    tf.dispose([pixels, x, y]);
    return probabilities;
  };
  return { spec, model, report, classify };
}

test.before(async () => {
  await initBackend({ prefer: 'wasm', quiet: true });
});

test('MobileNet α=0.25 with the shipped weights recognises the photographs', async () => {
  const { spec, model, report, classify } = await classifier('mobilenet_v1_0.25');
  assert.is(report.loaded.length, 55, 'every weighted layer of MobileNet got shipped weights');
  assert.equal(report.unused, []);

  // dog.jpg: a malamute-like dog (SOURCE.md: class 249, malamute).
  const dog = await classify('dog.jpg');
  assert.is(topK(dog, 1)[0], 249, `dog.jpg top-1 should be 249 (malamute), got ${topK(dog, 5).join(', ')}`);
  // eagle.jpg: 22 = bald eagle. The 0.25-wide MobileNet (about 50% ImageNet top-1) ranks it
  // second, after another bird (139, ruddy turnstone); top-3 is the honest bar for this model.
  const eagle = await classify('eagle.jpg');
  assert.ok(topK(eagle, 3).includes(22), `eagle.jpg top-3 should include 22 (bald eagle), got ${topK(eagle, 5).join(', ')}`);
  // The outputs are a probability distribution.
  assert.ok(Math.abs(dog.reduce((a, b) => a + b, 0) - 1) < 1e-3);

  // The same ImageNet weights through a Keras .h5 file (save_weights layout) give the same answer.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'imagenet-h5-'));
  try {
    const file = path.join(dir, 'mobilenet_2_5_224_tf.h5');
    await writeKerasH5Weights(model, file);
    const fromH5 = spec.build([224, 224, 3], { initialWeights: 'zeros' });
    await loadKerasH5Weights(fromH5, file);
    const pixels = await photo('dog.jpg', 224);
    const x = preprocess(pixels, spec.preprocessing);
    const y = fromH5.predict(x) as tf.Tensor;
    const again = (await y.data()) as Float32Array;
    assert.is(topK(again, 1)[0], 249);
    assert.ok(again.every((p, i) => Math.abs(p - dog[i]!) < 1e-6), 'identical probabilities after the .h5 round trip');
    tf.dispose([pixels, x, y]);
    fromH5.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  model.dispose();
});

test('ResNet50 with the shipped keras-2.2.4 weights (names mapped, float16 kernels) recognises the photographs', async () => {
  const { model, report, classify } = await classifier('resnet50');
  // 53 convolutions, 53 batch norms and the fc1000 head (keras 2.2.4's `fc1000` is today's `predictions`).
  assert.is(report.loaded.length, 107);
  assert.ok(report.loaded.includes('conv4_block6_3_bn') && report.loaded.includes('predictions'));
  assert.equal(report.unused, []);
  const eagle = await classify('eagle.jpg');
  assert.is(topK(eagle, 1)[0], 22, `eagle.jpg top-1 should be 22 (bald eagle), got ${topK(eagle, 5).join(', ')}`);
  // float32 original: p = 0.842 (bench/resnet50-float16.ts); the float16 copy stays within 1e-3.
  assert.ok(Math.abs(eagle[22]! - 0.842) < 2e-3, `p(bald eagle) = ${eagle[22]}`);
  const dog = await classify('dog.jpg');
  assert.is(topK(dog, 1)[0], 249, `dog.jpg top-1 should be 249 (malamute), got ${topK(dog, 5).join(', ')}`);
  model.dispose();
});

test('MobileNet α=0.75 with the shipped weights recognises the photographs', async () => {
  const { model, report, classify } = await classifier('mobilenet_v1_0.75');
  assert.is(report.loaded.length, 55);
  const dog = await classify('dog.jpg');
  assert.is(topK(dog, 1)[0], 249, `dog.jpg top-1 should be 249 (malamute), got ${topK(dog, 5).join(', ')}`);
  // SOURCE.md: eagle.jpg top-3 is kite, cock, bald eagle for this width.
  const eagle = await classify('eagle.jpg');
  assert.ok(topK(eagle, 3).includes(22), `eagle.jpg top-3 should include 22, got ${topK(eagle, 5).join(', ')}`);
  model.dispose();
});

test('keras 2.2.4 ResNet50 layer names map one to one to today\'s', async () => {
  const { kerasLegacyResNetName: name } = await import('../../stages/models/resnet.js');
  assert.is(name('conv1'), 'conv1_conv');
  assert.is(name('bn_conv1'), 'conv1_bn');
  assert.is(name('res2a_branch1'), 'conv2_block1_0_conv');
  assert.is(name('bn4f_branch2c'), 'conv4_block6_3_bn');
  assert.is(name('res5c_branch2b'), 'conv5_block3_2_conv');
  assert.is(name('fc1000'), 'predictions');
  assert.is(name('conv2_block1_1_conv'), 'conv2_block1_1_conv');
});

test.run();
