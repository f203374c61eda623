import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { getArchitecture } from '../../stages/models/registry.js';
import { createHeadLayers, layerBefore, splitModel, stackModel } from '../../stages/lib/classifier/graph-surgery.js';
import { loadModelFromDirectory, saveModelToDirectory } from '../../stages/lib/classifier/model-directory.js';
import { seededReinitialize } from '../../stages/lib/classifier/seeded-init.js';
import { tempDir } from './tiny-images.js';

let root = '';
test.before(async () => {
  await tf.setBackend('cpu');
  root = await tempDir('modeldir');
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

function randomImages(n: number, size: number): tf.Tensor4D {
  return tf.randomUniform([n, size, size, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
}

test('MobileNet base + study head: saved to a directory and loaded back, predictions are identical', async () => {
  const spec = await getArchitecture('mobilenet_v1_0.25');
  const base = spec.build([32, 32, 3], { includeTop: false, pooling: 'avg' });
  seededReinitialize(base, 3);
  const model = stackModel(base, createHeadLayers(4, 1), 'MobileNet_transfer');
  const dir = join(root, 'mobilenet');
  await saveModelToDirectory(model, dir);
  assert.ok(existsSync(join(dir, 'model.json')));
  assert.ok(existsSync(join(dir, 'weights.bin')));
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  assert.equal(json.weightsManifest[0].paths, ['./weights.bin']);
  assert.ok(!existsSync(join(dir, 'model.json.tmp')));

  const loaded = await loadModelFromDirectory(dir);
  const x = randomImages(3, 32);
  const a = (model.predict(x) as tf.Tensor).arraySync() as number[][];
  const b = (loaded.predict(x) as tf.Tensor).arraySync() as number[][];
  assert.equal(b, a);
  assert.is(a[0]!.length, 4);
  assert.ok(Math.abs(a[0]!.reduce((s, v) => s + v, 0) - 1) < 1e-5);
});

test('loading from a folder without a model names the missing file', async () => {
  try {
    await loadModelFromDirectory(join(root, 'nothing-here'));
    assert.unreachable('should throw');
  } catch (error) {
    assert.match((error as Error).message, /nothing-here.*model\.json is missing/);
  }
});

test('splitting MobileNet before conv_pad_12: bottom then top computes what the whole base computes', async () => {
  const spec = await getArchitecture('mobilenet_v1_0.25');
  const base = spec.build([64, 64, 3], { includeTop: false, pooling: 'avg' });
  seededReinitialize(base, 4);
  const cut = layerBefore(base, 'conv_pad_12');
  assert.is(cut, 'conv_pw_11_relu');
  const { bottom, top } = splitModel(base, cut);
  const x = randomImages(2, 64);
  const whole = (base.predict(x) as tf.Tensor).arraySync() as number[][];
  const parts = (top.predict(bottom.predict(x) as tf.Tensor) as tf.Tensor).arraySync() as number[][];
  for (let i = 0; i < whole.length; i++) for (let j = 0; j < whole[i]!.length; j++) assert.ok(Math.abs(whole[i]![j]! - parts[i]![j]!) < 1e-5);
  // The top shares the base's layers: only blocks 12–13 are in it.
  assert.ok(top.layers.some((l) => l.name === 'conv_dw_13'));
  assert.not.ok(top.layers.some((l) => l.name === 'conv_dw_11'));
});

test('two seeded initialisations of the same architecture are identical', async () => {
  const spec = await getArchitecture('small_cnn');
  const a = spec.build([32, 32, 3], { includeTop: true, classes: 4 });
  const b = spec.build([32, 32, 3], { includeTop: true, classes: 4 });
  seededReinitialize(a, 9);
  seededReinitialize(b, 9);
  assert.equal(
    b.getWeights().map((w) => Array.from(w.dataSync())),
    a.getWeights().map((w) => Array.from(w.dataSync())),
  );
});

test.run();
