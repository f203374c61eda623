// Keras .h5 weight files: written here in exactly Keras' layout with h5wasm (root `layer_names`,
// whole or split into layer_names0/1/…; per-layer `weight_names`; datasets nested by `/`), then
// loaded by layer name into our models.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import h5wasm from 'h5wasm/node';
import { buildMobileNet } from '../../stages/models/mobilenet.js';
import { buildSmallCnn } from '../../stages/models/small-cnn.js';
import { loadKerasH5Weights, readKerasH5Weights, writeKerasH5Weights } from '../../stages/models/keras-h5.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'keras-h5-'));

test.before(async () => {
  await tf.setBackend('cpu');
  await h5wasm.ready;
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Distinct, recognisable values for every weight: value = layer index * 1000 + weight index * 100 + position / size. */
function fillDistinct(model: tf.LayersModel): Map<string, Float32Array[]> {
  const expected = new Map<string, Float32Array[]>();
  model.layers.forEach((layer, li) => {
    if (!layer.weights.length) return;
    const values = layer.weights.map((w, wi) => {
      const size = w.shape.reduce((a, b) => a! * b!, 1)!;
      return Float32Array.from({ length: size }, (_, i) => li * 1000 + wi * 100 + i / size);
    });
    expected.set(layer.name, values);
  });
  return expected;
}

/** Writes `weights` the way Keras' `save_weights` lays them out, with fixed-length byte strings. */
function writeKerasLayout(
  file: string,
  layers: Array<{ name: string; weights: Array<{ name: string; shape: number[]; values: Float32Array }> }>,
  splitLayerNamesEvery?: number,
) {
  const f = new h5wasm.File(file, 'w');
  const names = layers.map((l) => l.name);
  const width = Math.max(...names.map((n) => n.length));
  if (splitLayerNamesEvery) {
    for (let i = 0, c = 0; i < names.length; i += splitLayerNamesEvery, c++) {
      const part = names.slice(i, i + splitLayerNamesEvery);
      f.create_attribute(`layer_names${c}`, part, [part.length], `S${width}`);
    }
  } else {
    f.create_attribute('layer_names', names, [names.length], `S${width}`);
  }
  f.create_attribute('backend', 'tensorflow');
  f.create_attribute('keras_version', '2.2.4');
  for (const layer of layers) {
    const g = f.create_group(layer.name);
    const weightNames = layer.weights.map((w) => w.name);
    if (weightNames.length) {
      g.create_attribute('weight_names', weightNames, [weightNames.length], `S${Math.max(...weightNames.map((n) => n.length))}`);
    } else {
      g.create_attribute('weight_names', new Float32Array(0), [0], '<f');
    }
    for (const w of layer.weights) {
      // `conv1/kernel:0` lives in subgroup `conv1` of the layer's group.
      const parts = w.name.split('/');
      let parent = g;
      for (const sub of parts.slice(0, -1)) parent = (parent.get(sub) as typeof g | null) ?? parent.create_group(sub);
      parent.create_dataset({ name: parts[parts.length - 1]!, data: w.values, shape: w.shape, dtype: '<f' });
    }
  }
  f.close();
}

function kerasLayers(model: tf.LayersModel, expected: Map<string, Float32Array[]>, rename: (name: string) => string = (n) => n) {
  const suffixes = new Map<string, string[]>();
  return model.layers.map((layer) => {
    const name = rename(layer.name);
    const values = expected.get(layer.name) ?? [];
    suffixes.set(name, []);
    return {
      name,
      weights: layer.weights.map((w, i) => ({
        name: `${name}/${w.originalName.split('/').pop()}:0`,
        shape: [...w.shape] as number[],
        values: values[i]!,
      })),
    };
  });
}

function assertModelHolds(model: tf.LayersModel, expected: Map<string, Float32Array[]>) {
  for (const [layerName, values] of expected) {
    const actual = model.getLayer(layerName).getWeights();
    assert.is(actual.length, values.length, layerName);
    actual.forEach((t, i) => {
      const got = t.dataSync();
      assert.is(got.length, values[i]!.length, `${layerName}[${i}] size`);
      assert.is(got[0], values[i]![0], `${layerName}[${i}] first value`);
      assert.is(got[got.length - 1], values[i]![values[i]!.length - 1], `${layerName}[${i}] last value`);
    });
  }
}

test('loads a Keras-layout file (whole layer_names) into MobileNet by layer name', async () => {
  const source = buildMobileNet([32, 32, 3], { alpha: 0.25, classes: 5 });
  const expected = fillDistinct(source);
  const file = path.join(dir, 'whole.h5');
  writeKerasLayout(file, kerasLayers(source, expected));
  const target = buildMobileNet([32, 32, 3], { alpha: 0.25, classes: 5 });
  const report = await loadKerasH5Weights(target, file);
  assert.is(report.loaded.length, expected.size);
  assert.equal(report.renumbered, []);
  assertModelHolds(target, expected);
  // BN order gamma, beta, moving mean, moving variance survived.
  const bn = target.getLayer('conv1_bn').getWeights();
  assert.is(bn[2]!.dataSync()[0], expected.get('conv1_bn')![2]![0]);
  tf.dispose([source, target].flatMap((m) => m.weights.map((w) => w.read())));
});

test('reads layer_names split into layer_names0, layer_names1, … (long files)', async () => {
  const source = buildSmallCnn([32, 32, 3], { classes: 3 });
  const expected = fillDistinct(source);
  const file = path.join(dir, 'split.h5');
  writeKerasLayout(file, kerasLayers(source, expected), 4);
  const layers = await readKerasH5Weights(file);
  assert.equal(layers.map((l) => l.name), source.layers.map((l) => l.name));
  const target = buildSmallCnn([32, 32, 3], { classes: 3 });
  await loadKerasH5Weights(target, file);
  assertModelHolds(target, expected);
});

test('writeKerasH5Weights round-trips, also with split names', async () => {
  const source = buildSmallCnn([32, 32, 3], { classes: 3 });
  const expected = fillDistinct(source);
  source.layers.forEach((layer) => {
    const values = expected.get(layer.name);
    if (values) layer.setWeights(values.map((v, i) => tf.tensor(v, layer.weights[i]!.shape as number[])));
  });
  for (const max of [undefined, 3]) {
    const file = path.join(dir, `roundtrip-${max ?? 'whole'}.h5`);
    await writeKerasH5Weights(source, file, { maxNamesPerAttribute: max });
    const target = buildSmallCnn([32, 32, 3], { classes: 3 });
    await loadKerasH5Weights(target, file);
    assertModelHolds(target, expected);
  }
});

test("pairs Keras 2.0's conv2d_1, conv2d_2, … with our conv2d, conv2d_1, … in creation order", async () => {
  const source = buildSmallCnn([32, 32, 3], { classes: 3 });
  const expected = fillDistinct(source);
  // Pretend the file came from a session that auto-numbered the convs from 1 (block1_conv → conv2d_1 …).
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 2, kernelSize: 3, name: 'conv2d' }),
      tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv2d_1' }),
      tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'conv2d_2' }),
    ],
  });
  const values = fillDistinct(model);
  const file = path.join(dir, 'renumbered.h5');
  writeKerasLayout(file, kerasLayers(model, values, (n) => (n === 'conv2d' ? 'conv2d_1' : `conv2d_${Number(n.split('_')[1]) + 1}`)));
  const target = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 2, kernelSize: 3, name: 'conv2d' }),
      tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv2d_1' }),
      tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'conv2d_2' }),
    ],
  });
  const report = await loadKerasH5Weights(target, file);
  assert.equal(report.renumbered, [['conv2d', 'conv2d_1'], ['conv2d_1', 'conv2d_2'], ['conv2d_2', 'conv2d_3']]);
  assertModelHolds(target, values);
  void expected;
});

test('a clear error lists missing, unexpected and mis-shaped layers, and loads nothing', async () => {
  const source = buildSmallCnn([32, 32, 3], { classes: 3 });
  const expected = fillDistinct(source);
  const layers = kerasLayers(source, expected)
    .filter((l) => l.name !== 'block2_bn') // missing
    .concat([{ name: 'fc_extra', weights: [{ name: 'fc_extra/kernel:0', shape: [2, 2], values: new Float32Array(4) }] }]);
  const file = path.join(dir, 'broken.h5');
  writeKerasLayout(file, layers);
  const target = buildSmallCnn([32, 32, 3], { classes: 4 }); // predictions: 256x4, file has 256x3
  const before = target.getLayer('block1_conv').getWeights()[0]!.dataSync().slice();
  try {
    await loadKerasH5Weights(target, file);
    assert.unreachable('should have thrown');
  } catch (error) {
    const message = (error as Error).message;
    assert.match(message, file);
    assert.match(message, /missing in file \(1\): block2_bn/);
    assert.match(message, /unexpected in file \(1\): fc_extra/);
    assert.match(message, /mis-shaped \(1\): predictions: model \[256,4\] \[4\] vs file \[256,3\] \[3\]/);
  }
  assert.equal(target.getLayer('block1_conv').getWeights()[0]!.dataSync(), before, 'nothing was assigned');
});

test('strict: false ignores a head the model does not have', async () => {
  const source = buildSmallCnn([32, 32, 3], { classes: 3 });
  const expected = fillDistinct(source);
  const file = path.join(dir, 'with-top.h5');
  writeKerasLayout(file, kerasLayers(source, expected));
  const notop = buildSmallCnn([32, 32, 3], { includeTop: false, pooling: 'avg' });
  const strictError = await loadKerasH5Weights(notop, file).then(() => null, (e: Error) => e);
  assert.match(String(strictError?.message), /unexpected in file \(1\): predictions/);
  const report = await loadKerasH5Weights(notop, file, { strict: false });
  assert.equal(report.unused, ['predictions']);
  expected.delete('predictions');
  assertModelHolds(notop, expected);
});

test('a file that is not HDF5 is named in the error', async () => {
  const model = buildSmallCnn([32, 32, 3], { classes: 3 });
  const file = path.join(dir, 'not-hdf5.h5');
  (await import('node:fs')).writeFileSync(file, 'hello');
  try {
    await loadKerasH5Weights(model, file);
    assert.unreachable('should have thrown');
  } catch (error) {
    assert.match((error as Error).message, `${file}: cannot open as HDF5`);
  }
});

test.run();
