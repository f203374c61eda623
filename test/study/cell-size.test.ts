// The cell's size relative to its lab as a transfer model's second input (cell-size.ts): the values, the
// study's sizes from segment's records, the two-input model and its ensemble, and `pipe predict` taking a
// folder's median, through the CLI.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendCellSize,
  cellDiameter,
  jitteredCellSize,
  modelInput,
  relativeCellSizes,
  takesCellSize,
  withCellSizeInput,
} from '../../stages/lib/classifier/cell-size.js';
import { studyCellSizes } from '../../stages/lib/classifier/study-cell-sizes.js';
import { createHeadLayers, stackModel } from '../../stages/lib/classifier/graph-surgery.js';
import { mergeAveragingEnsemble, readSavedModel, writeSavedModel } from '../../stages/lib/classifier/averaging-ensemble.js';
import { loadModelFromDirectory, saveModelToDirectory } from '../../stages/lib/classifier/model-directory.js';
import { predictProbabilities } from '../../stages/lib/classifier/inference.js';
import { TINY_CLASSES } from './tiny-images.js';
import { disposeAll, repo, Workspace } from '../runner/rig.js';

const SIZE = 16;
const SMOKE = join(repo, 'test/study/fixtures/smoke-data');
const scratch = mkdtempSync(join(tmpdir(), 'leukopipe-cell-size-'));

test.before(async () => {
  await tf.setBackend('cpu');
});
test.after(() => {
  rmSync(scratch, { recursive: true, force: true });
  disposeAll();
});

test('values: log of the diameter over the median of the cells given; unknown sizes are 0; variants jitter within ± jitter, fixed by name', () => {
  assert.is(cellDiameter({ status: 'ok', scale: 0.5 }), 2);
  assert.is(cellDiameter({ status: 'fallback', scale: 0.5 }), null, 'no cell found: no size');
  const values = relativeCellSizes([10, 20, null, 40]);
  assert.ok(Math.abs(values[0]! - Math.log(10 / 20)) < 1e-12 && Math.abs(values[3]! - Math.log(2)) < 1e-12);
  assert.is(values[1], 0);
  assert.is(values[2], 0, 'a cell without a size is taken as typical');
  assert.equal(relativeCellSizes([33]), [0], 'one cell alone is its own median');
  const a = jitteredCellSize(0.1, 'x__v0', 0.3);
  assert.is(a, jitteredCellSize(0.1, 'x__v0', 0.3));
  assert.ok(Math.abs(a - 0.1) <= 0.3 && a !== 0.1);
  assert.ok(jitteredCellSize(0.1, 'x__v0', 0.3) !== jitteredCellSize(0.1, 'x__v1', 0.3));
  assert.is(jitteredCellSize(0.1, 'x__v0', 0), 0.1);
  assert.equal([...appendCellSize(new Float32Array([1, 2, 3, 4]), 2, [0.5, -1], 3)], [1, 2, 0.5, 0.5, 0.5, 3, 4, -1, -1, -1]);
  assert.throws(() => appendCellSize(new Float32Array(4), 2, [1], 1), /2 rows of features, 1 sizes/);
});

test('the study\'s sizes: each lab\'s median over its cells from segment\'s records; a variant is its cell\'s, jittered; an unknown cell is named', () => {
  const dir = join(scratch, 'segment');
  mkdirSync(dir, { recursive: true });
  const rec = (lab: string, cls: string, stem: string, scale: number, status = 'ok') => JSON.stringify({ file: `images/${lab}/${cls}/${stem}.jpg`, class: cls, lab, status, scale, cell: `cells/${lab}/${cls}/${stem}.png` });
  // Lab a: diameters 10, 20, 40 (median 20); lab b: 100, 300 (median 200) and one without a cell.
  writeFileSync(join(dir, 'records.jsonl'), [rec('a', 'X', 'c1', 0.1), rec('a', 'X', 'c2', 0.05), rec('a', 'Y', 'c3', 0.025), rec('b', 'X', 'd1', 0.01), rec('b', 'Y', 'd2', 1 / 300), rec('b', 'Y', 'd3', 0.5, 'fallback')].join('\n') + '\n');
  const sizes = studyCellSizes(dir, 0.3);
  assert.equal(sizes.medians, { a: 20, b: 200 });
  const close = (x: number, y: number) => Math.abs(x - y) < 1e-9;
  assert.ok(close(sizes.of('normalize/cells/a/X/c1.png'), Math.log(0.5)));
  assert.ok(close(sizes.of('normalize/cells/b/Y/d2.png'), Math.log(1.5)));
  assert.is(sizes.of('normalize/cells/b/Y/d3.png'), 0, 'no cell found: typical size');
  const variant = sizes.of('augment/variants/a/Y/c3__v2.png');
  assert.ok(close(variant, jitteredCellSize(Math.log(2), 'c3__v2', 0.3)) && !close(variant, Math.log(2)));
  assert.ok(close(studyCellSizes(dir, 0).of('augment/variants/a/Y/c3__v2.png'), Math.log(2)), 'no jitter: the cell\'s own value');
  assert.throws(() => sizes.of('normalize/cells/a/X/nope.png'), /no segment record for normalize\/cells\/a\/X\/nope\.png's cell \(a\/X\/nope\)/);
});

/** conv → pool → (with the cell's size) the study head, seeded. */
function sizedModel(copies: number | null): tf.LayersModel {
  const input = tf.input({ shape: [SIZE, SIZE, 3] });
  const conv = tf.layers.conv2d({ filters: 6, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), name: 'conv' }).apply(input) as tf.SymbolicTensor;
  const pool = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(conv) as tf.SymbolicTensor;
  const base = tf.model({ inputs: input, outputs: pool, name: 'tiny' });
  return stackModel(copies ? withCellSizeInput(base, copies) : base, createHeadLayers(TINY_CLASSES.length, 3, { standardize: true }), 'tiny_transfer');
}

const images = (n: number) => Array.from({ length: n }, (_, i) => new Uint8Array(SIZE * SIZE * 3).map((_, j) => (i * 37 + j * 11) % 256));

test('a model with the cell\'s size takes it as its second input, reads it, and says so when it is missing', async () => {
  const model = sizedModel(8);
  assert.ok(takesCellSize(model));
  assert.not.ok(takesCellSize(sizedModel(null)));
  assert.equal(model.inputs.map((t) => t.shape), [[null, SIZE, SIZE, 3], [null, 1]]);
  const x = images(2);
  const opts = { size: SIZE, preprocessing: 'rescale' as const };
  const small = await predictProbabilities(model, x, async (im) => im, { ...opts, cellSizes: [-0.5, -0.5] });
  const large = await predictProbabilities(model, x, async (im) => im, { ...opts, cellSizes: [0.5, 0.5] });
  assert.ok(Math.abs(small.probabilities[0]![0]! - large.probabilities[0]![0]!) > 1e-5, 'the size changes the prediction');
  const error = await predictProbabilities(model, x, async (im) => im, opts).catch((e: Error) => e);
  assert.match(String(error), /takes each cell's size relative to its lab: none given/);
  const t = tf.zeros([2, SIZE, SIZE, 3]);
  assert.throws(() => modelInput(model, t, [1]), /1 sizes for 2 images/);
  assert.is(modelInput(sizedModel(null), t, undefined), t, 'a one-input model gets the images alone');
  t.dispose();
});

test('an ensemble of a member with the cell\'s size and one without takes both inputs and averages the members', async () => {
  const sized = sizedModel(4);
  const plain = sizedModel(null);
  await saveModelToDirectory(sized, join(scratch, 'sized'));
  await saveModelToDirectory(plain, join(scratch, 'plain'));
  const merged = mergeAveragingEnsemble([await readSavedModel(join(scratch, 'sized')), await readSavedModel(join(scratch, 'plain'))], ['transfer__', 'finetune__']);
  await writeSavedModel(join(scratch, 'ensemble'), merged);
  const ensemble = await loadModelFromDirectory(join(scratch, 'ensemble'));
  assert.ok(takesCellSize(ensemble));
  assert.equal(ensemble.inputNames, ['ensemble_input', 'ensemble_cell_size']);
  const x = tf.tensor4d(images(3)[0]!.map((v) => v / 255), [1, SIZE, SIZE, 3]);
  const s = tf.tensor2d([[0.4]]);
  const mean = tf.tidy(() => (sized.predict([x, s]) as tf.Tensor).add(plain.predict(x) as tf.Tensor).div(2).arraySync() as number[][]);
  const got = tf.tidy(() => (ensemble.predict([x, s]) as tf.Tensor).arraySync() as number[][]);
  got[0]!.forEach((v, i) => assert.ok(Math.abs(v - mean[0]![i]!) < 1e-5, `class ${i}: ${v} vs ${mean[0]![i]}`));
  tf.dispose([x, s]);
});

test('pipe predict: each cell\'s size over the median of the call\'s cells, recorded in predictions.json; the same image reads otherwise among others', async () => {
  const ws = new Workspace({
    'pipeline.json': { stages: [{ id: 'noop', command: 'true' }], commands: { predict: { module: 'stages/predict.ts' } } },
  });
  symlinkSync(join(repo, 'stages'), ws.path('stages'));
  await saveModelToDirectory(sizedModel(8), ws.path('trained/model'));
  writeFileSync(
    ws.path('trained/train.json'),
    JSON.stringify({
      schemaVersion: 1, instanceId: 'train[arch=tiny,mode=transfer]', arch: 'tiny', mode: 'transfer', status: 'trained',
      classes: TINY_CLASSES, inputSize: SIZE, preprocessing: 'rescale', weights: 'random',
      cell: { size: 32, margin: 0.1 }, normalization: null, cellSize: { copies: 8, jitter: 0.3, median: 'lab' }, sources: ['tiny'], params: {},
      data: { train: 0, val: 0 }, epochs: { planned: 0, completed: 0, kept: null, stoppedEarly: false, resumedFrom: null },
      best: null, parameters: null, backend: null, versions: {}, seconds: { wall: 0, training: 0 },
    }),
  );
  mkdirSync(ws.path('one'));
  cpSync(join(SMOKE, 'LYMPHOCYTE/LY_100275.jpg'), ws.path('one/b.jpg'));
  cpSync(join(SMOKE, 'EOSINOPHIL'), ws.path('many'), { recursive: true });
  cpSync(join(SMOKE, 'LYMPHOCYTE/LY_100275.jpg'), ws.path('many/b.jpg'));
  const predict = (out: string, ...args: string[]) => ws.pipe(['predict', '--backend', 'cpu', '--adapt', 'none', '--model', ws.path('trained'), '--out', ws.path(out), ...args], { INIT_CWD: ws.dir });
  type Json = { cellSize: { medianCropSidePx: number; cells: number; why: string } | null; images: { file: string; probabilities: Record<string, number> | null }[] };
  const read = (out: string) => JSON.parse(readFileSync(ws.path(`${out}/predictions.json`), 'utf8')) as Json;

  let r = await predict('alone', ws.path('one'));
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /cell size: each cell's diameter over the median of the 1 cell\(s\) this call read \(the median crop around a cell \d+ px of its image\)/);
  assert.match(r.stdout, /one cell alone is taken as of typical size/);
  const alone = read('alone');
  assert.is(alone.cellSize!.cells, 1);
  r = await predict('among', ws.path('many'));
  assert.is(r.code, 0, r.stdout + r.stderr);
  const among = read('among');
  const count = among.images.length;
  assert.is(among.cellSize!.cells, count, 'every cell of the call counts');
  assert.ok(among.cellSize!.medianCropSidePx > 32, 'the crops are larger than the 32 px canonical cell in these images');
  const b = among.images.find((i) => i.file.endsWith('b.jpg'))!;
  assert.not.equal(b.probabilities, alone.images[0]!.probabilities, 'the same cell, relative to another median, reads otherwise');
});

test.run();
