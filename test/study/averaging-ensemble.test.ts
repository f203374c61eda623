import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getArchitecture } from '../../stages/models/registry.js';
import { createHeadLayers, stackModel } from '../../stages/lib/classifier/graph-surgery.js';
import { loadModelFromDirectory, saveModelToDirectory } from '../../stages/lib/classifier/model-directory.js';
import { seededReinitialize } from '../../stages/lib/classifier/seeded-init.js';
import { ENSEMBLE_OUTPUT, mergeAveragingEnsemble, readSavedModel, writeSavedModel } from '../../stages/lib/classifier/averaging-ensemble.js';
import { tempDir } from '../data/context.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

async function mobilenetClassifier(seed: number, size = 32): Promise<tf.LayersModel> {
  const spec = await getArchitecture('mobilenet_v1_0.25');
  const base = spec.build([size, size, 3], { includeTop: false, pooling: 'avg' });
  seededReinitialize(base, seed);
  const model = stackModel(base, createHeadLayers(4, seed), `member_${seed}`);
  seededReinitialize(model, seed);
  // A bias per member so that the two members clearly disagree.
  const head = model.getLayer('head_predictions');
  head.setWeights([head.getWeights()[0]!, tf.tensor1d([seed, 0, -seed, 0])]);
  return model;
}

test('two saved classifiers merge into one model whose output is the mean of theirs', async () => {
  const root = tempDir('ensemble-');
  const a = await mobilenetClassifier(1);
  const b = await mobilenetClassifier(2);
  await saveModelToDirectory(a, join(root, 'a'));
  await saveModelToDirectory(b, join(root, 'b'));
  const merged = mergeAveragingEnsemble([await readSavedModel(join(root, 'a')), await readSavedModel(join(root, 'b'))], ['transfer__', 'finetune__']);
  await writeSavedModel(join(root, 'ens'), merged);

  const json = JSON.parse(readFileSync(join(root, 'ens', 'model.json'), 'utf8'));
  const names: string[] = json.modelTopology.config.layers.map((l: { name: string }) => l.name);
  assert.ok(names.includes('transfer__conv1') && names.includes('finetune__conv1'), 'member layers keep their Keras names behind a prefix');
  assert.is(new Set(names).size, names.length, 'layer names are unique');
  assert.equal(json.modelTopology.config.output_layers, [[ENSEMBLE_OUTPUT, 0, 0]]);
  assert.ok(json.weightsManifest[0].weights.some((w: { name: string }) => w.name === 'finetune__conv1/kernel'));

  const loaded = await loadModelFromDirectory(join(root, 'ens'));
  const x = tf.randomUniform([3, 32, 32, 3], -1, 1, 'float32', 7);
  const expected = tf.div(tf.add(a.predict(x) as tf.Tensor, b.predict(x) as tf.Tensor), 2);
  const got = loaded.predict(x) as tf.Tensor;
  assert.equal(got.shape, [3, 4]);
  assert.ok(tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]! < 1e-5, 'ensemble output = mean of the members');
  const sums = (await tf.sum(got, 1).array()) as number[];
  for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5, 'rows are still probabilities');
  // Not the same as either member alone (the members differ).
  const gap = tf.max(tf.abs(tf.sub(a.predict(x) as tf.Tensor, b.predict(x) as tf.Tensor))).dataSync()[0]!;
  assert.ok(gap > 1e-3, `members should differ (max gap ${gap})`);
  assert.ok(tf.max(tf.abs(tf.sub(got, a.predict(x) as tf.Tensor))).dataSync()[0]! > gap / 4);
});

test('one member passes through unchanged; mismatched inputs and broken weight data are refused', async () => {
  const root = tempDir('ensemble-');
  const a = await mobilenetClassifier(1);
  await saveModelToDirectory(a, join(root, 'a'));
  const savedA = await readSavedModel(join(root, 'a'));
  await writeSavedModel(join(root, 'one'), mergeAveragingEnsemble([savedA], ['only__']));
  const one = await loadModelFromDirectory(join(root, 'one'));
  const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 3);
  assert.ok(tf.max(tf.abs(tf.sub(one.predict(x) as tf.Tensor, a.predict(x) as tf.Tensor))).dataSync()[0]! < 1e-6);

  const big = await mobilenetClassifier(2, 64);
  await saveModelToDirectory(big, join(root, 'big'));
  const savedBig = await readSavedModel(join(root, 'big'));
  assert.throws(() => mergeAveragingEnsemble([savedA, savedBig], ['a__', 'b__']), /member 2 \(b__\): input shape \[null,64,64,3\] differs/);
  assert.throws(() => mergeAveragingEnsemble([savedA, { ...savedA, weights: savedA.weights.slice(8) }], ['a__', 'b__']), /member 2 \(b__\): the manifest describes \d+ bytes of weights but the weight data has/);
  assert.throws(() => mergeAveragingEnsemble([savedA, savedA], ['a__', 'a__']), /each member needs its own prefix/);
});

test.run();
