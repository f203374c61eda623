// features → train (transfer, finetune, scratch) → evaluate → predict on a few tiny images, one or two
// steps each, through the real stage modules.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { InputFile, CommandContext } from '../../pipeline/stage-api.js';
import features from '../../stages/features.js';
import train from '../../stages/train.js';
import evaluate from '../../stages/evaluate.js';
import ensemble from '../../stages/ensemble.js';
import predict from '../../stages/predict.js';
import shiftedCells from '../../stages/shifted-cells.js';
import { parseCsvRows } from '../../stages/lib/io/csv.js';
import { stageContext } from './context.js';
import { tempDir, TINY_CLASSES, tinyCellPng, writeTinyStudy } from './tiny-images.js';

process.env.LEUKOPIPE_BACKEND = 'wasm';
let root = '';
let normalizeDir = '';
let splitDir = '';
let featuresDir = '';
const trained: Record<string, string> = {};
const evaluated: Record<string, string> = {};

const trainParams = (mode: string, arch: string, extra: Record<string, unknown> = {}) => ({
  arch,
  mode,
  classes: null,
  epochs: 2,
  batchSize: 4,
  optimizer: { name: 'adam', learningRate: 0.01 },
  earlyStopping: null,
  seed: 1,
  inputSize: 32,
  preprocessing: 'rescale',
  maxStepsPerEpoch: null,
  finetune: { fromLayer: 'conv_pad_12', epochs: 1, batchSize: 4, optimizer: { name: 'adam', learningRate: 0.001 } },
  cell: { size: 24, margin: 0.1 },
  normalize: { method: 'none' },
  backend: 'wasm',
  ...extra,
});

test.before(async () => {
  root = await tempDir('stages');
  ({ normalizeDir, splitDir } = await writeTinyStudy(root, { size: 24 }));
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('features writes one float32 vector per image and features.json', async () => {
  const cells: InputFile[] = [];
  for (const c of TINY_CLASSES) {
    for (const name of (await readdir(join(normalizeDir, 'cells', c))).sort()) {
      cells.push({ path: join(normalizeDir, 'cells', c, name), rel: `cells/${c}/${name}`, hash: name, fromInstance: 'normalize' });
    }
  }
  featuresDir = join(root, 'features');
  const weightsDir = join(root, 'weights');
  await mkdir(weightsDir, { recursive: true });
  await writeFile(join(weightsDir, 'weights.json'), JSON.stringify({ arch: 'mobilenet_v1_0.25', status: 'missing', message: 'put X at Y' }));
  const ctx = await stageContext({
    stageId: 'features',
    matrix: { arch: 'mobilenet_v1_0.25' },
    params: { arch: 'mobilenet_v1_0.25', weights: 'imagenet-or-random', inputSize: 32, preprocessing: 'auto', onMissingWeights: 'skip', batchSize: 5, seed: 1, backend: 'wasm' } as const,
    deps: { 'weights[arch=mobilenet_v1_0.25]': weightsDir, normalize: normalizeDir },
    inputs: cells,
    outDir: featuresDir,
  });
  const items = cells.map((input) => ({ input, outDir: featuresDir }));
  await features.processItems(ctx as never, items);
  await features.finalize!(ctx as never, cells.map((input) => ({ input, files: [`features/normalize/${input.rel}.f32`] })));
  const record = JSON.parse(readFileSync(join(featuresDir, 'features.json'), 'utf8'));
  assert.is(record.status, 'computed');
  assert.is(record.weights, 'random', 'missing ImageNet weights fall back to seeded random here');
  assert.is(record.dim, 256);
  const vector = readFileSync(join(featuresDir, 'features/normalize/cells/EOSINOPHIL/train_0.png.f32'));
  assert.is(vector.byteLength, 256 * 4);
});

test('features.variants: only the first N augmented variants per cell get vectors, and the head trains on just those', async () => {
  const augmentDir = join(root, 'augment');
  const inputs: InputFile[] = [];
  const variantRows: string[] = [];
  for (const c of TINY_CLASSES) {
    for (const name of (await readdir(join(normalizeDir, 'cells', c))).sort()) {
      inputs.push({ path: join(normalizeDir, 'cells', c, name), rel: `cells/${c}/${name}`, hash: `${c}${name}`, fromInstance: 'normalize' });
    }
    await mkdir(join(augmentDir, 'variants', c), { recursive: true });
    for (const k of [0, 1, 2]) {
      const rel = `variants/${c}/train_0__v${k}.png`;
      await writeFile(join(augmentDir, rel), readFileSync(join(normalizeDir, 'cells', c, 'train_0.png')));
      inputs.push({ path: join(augmentDir, rel), rel, hash: `${c}v${k}`, fromInstance: 'augment' });
      variantRows.push(`augment/${rel},${c},tiny,${c}-train-0,${c}/train_0.png`);
    }
  }
  const out = join(root, 'features-capped');
  const ctx = await stageContext({
    stageId: 'features',
    matrix: { arch: 'mobilenet_v1_0.25' },
    params: { arch: 'mobilenet_v1_0.25', weights: 'random', inputSize: { 'mobilenet_v1_0.25': 40, default: 32 }, preprocessing: 'auto', batchSize: 8, seed: 1, backend: 'wasm', variants: { 'mobilenet_v1_0.25': 1, resnet50: 0 } } as never,
    // The items' producers are deps, as the runner guarantees: their stage ids name the vectors' folders.
    deps: { 'weights[arch=mobilenet_v1_0.25]': join(root, 'weights'), normalize: normalizeDir, augment: augmentDir },
    inputs,
    outDir: out,
  });
  await features.processItems(ctx as never, inputs.map((input) => ({ input, outDir: out })));
  const vector = (input: InputFile) => `features/${input.fromInstance}/${input.rel}.f32`;
  const written = inputs.filter((input) => existsSync(join(out, vector(input)))).map((input) => input.rel);
  assert.is(written.filter((rel) => rel.startsWith('cells/')).length, 8 * TINY_CLASSES.length, 'every original gets a vector');
  assert.equal(written.filter((rel) => rel.startsWith('variants/')), TINY_CLASSES.map((c) => `variants/${c}/train_0__v0.png`), 'of the variants, only each cell\'s first');
  await features.finalize!(ctx as never, inputs.map((input) => ({ input, files: written.includes(input.rel) ? [vector(input)] : [] })));
  const record = JSON.parse(readFileSync(join(out, 'features.json'), 'utf8'));
  assert.is(record.variants, 1, 'the cap of this instance\'s architecture is recorded');
  assert.is(record.inputSize, 40, 'the input size this instance\'s architecture names, not the default');

  // A split whose training rows list all three variants: the head trains on the originals and the first variants.
  const split = join(root, 'split-with-variants');
  await mkdir(split, { recursive: true });
  for (const name of ['val.csv', 'test.csv', 'split.json']) await writeFile(join(split, name), readFileSync(join(splitDir, name)));
  await writeFile(join(split, 'train.csv'), readFileSync(join(splitDir, 'train.csv'), 'utf8') + variantRows.join('\n') + '\n');
  const trainCtx = await stageContext({
    stageId: 'train',
    matrix: { arch: 'mobilenet_v1_0.25', mode: 'transfer' },
    params: trainParams('transfer', 'mobilenet_v1_0.25', { epochs: 1 }) as never,
    deps: { split, normalize: normalizeDir, augment: augmentDir, 'features[arch=mobilenet_v1_0.25]': out },
  });
  await train.run(trainCtx as never);
  const trainedRecord = JSON.parse(readFileSync(join(trainCtx.outDir, 'train.json'), 'utf8'));
  assert.is(trainedRecord.data.train, 7 * TINY_CLASSES.length, 'the split\'s training rows: 4 originals and 3 variants per class');
  assert.is(trainedRecord.data.headTrain, 5 * TINY_CLASSES.length, 'the rows with a vector: 4 originals and 1 variant per class');
});

test('features with missing weights and onMissingWeights skip: no vectors, the reason recorded', async () => {
  const weightsDir = join(root, 'weights');
  const out = join(root, 'features-skipped');
  const ctx = await stageContext({
    stageId: 'features',
    // A size map that does not name this architecture: its `default` applies (recorded even when skipped).
    params: { arch: 'mobilenet_v1_0.25', weights: 'imagenet', inputSize: { resnet50: 64, default: 36 }, onMissingWeights: 'skip' } as never,
    deps: { 'weights[arch=mobilenet_v1_0.25]': weightsDir },
    outDir: out,
  });
  const input = { path: join(normalizeDir, 'cells/EOSINOPHIL/train_0.png'), rel: 'cells/EOSINOPHIL/train_0.png', hash: 'x', fromInstance: 'normalize' };
  await features.processItems(ctx as never, [{ input, outDir: out }]);
  await features.finalize!(ctx as never, [{ input, files: [] }]);
  assert.not.ok(existsSync(join(out, 'features')));
  const record = JSON.parse(readFileSync(join(out, 'features.json'), 'utf8'));
  assert.is(record.status, 'skipped');
  assert.match(record.reason, /put X at Y/);
  assert.is(record.inputSize, 36, 'an architecture the size map does not name takes its default');
});

test('train transfer: head on cached features, whole model saved, history and train.json', async () => {
  const ctx = await stageContext({
    stageId: 'train',
    matrix: { arch: 'mobilenet_v1_0.25', mode: 'transfer' },
    params: trainParams('transfer', 'mobilenet_v1_0.25') as never,
    deps: { split: splitDir, normalize: normalizeDir, 'features[arch=mobilenet_v1_0.25]': featuresDir },
  });
  await train.run(ctx as never);
  trained.transfer = ctx.outDir;
  const record = JSON.parse(readFileSync(join(ctx.outDir, 'train.json'), 'utf8'));
  assert.is(record.status, 'trained');
  assert.equal(record.classes, TINY_CLASSES);
  assert.is(record.inputSize, 32);
  assert.is(record.preprocessing, 'tf', 'transfer uses the preprocessing the features were computed with');
  assert.is(record.epochs.completed, 2);
  assert.is(record.data.train, 8);
  assert.equal(record.cell, { size: 24, margin: 0.1 });
  assert.type(record.backend.name, 'string');
  const history = readFileSync(join(ctx.outDir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(history.map((h) => `${h.phase}:${h.epoch}`), ['head:1', 'head:2']);
  const modelJson = JSON.parse(readFileSync(join(ctx.outDir, 'model/model.json'), 'utf8'));
  const layerNames = modelJson.modelTopology.config.layers.map((l: { name: string }) => l.name);
  assert.ok(layerNames.includes('conv1') && layerNames.includes('head_predictions'), 'base and head in one model');
});

test('train.trainLabs: fits on the named labs only; a lab the split lacks is an error naming the param', async () => {
  const deps = { split: splitDir, normalize: normalizeDir, 'features[arch=mobilenet_v1_0.25]': featuresDir };
  const only = await stageContext({ stageId: 'train', matrix: { arch: 'mobilenet_v1_0.25', mode: 'transfer' }, params: trainParams('transfer', 'mobilenet_v1_0.25', { epochs: 1, trainLabs: ['tiny'] }) as never, deps });
  await train.run(only as never);
  const record = JSON.parse(readFileSync(join(only.outDir, 'train.json'), 'utf8'));
  assert.equal(record.sources, ['tiny']);
  assert.is(record.data.train, 8);
  const wrong = await stageContext({ stageId: 'train', matrix: { arch: 'mobilenet_v1_0.25', mode: 'transfer' }, params: trainParams('transfer', 'mobilenet_v1_0.25', { trainLabs: ['lab-b'] }) as never, deps });
  const error = await train.run(wrong as never).then(() => null, (e: Error) => e);
  assert.ok(error, 'refused');
  assert.match(error!.message, /params\.trainLabs names lab-b, not a lab of the split \(tiny\)/);
  assert.not.ok(existsSync(join(wrong.outDir, 'train.json')), 'nothing written');
});

test('train finetune: head phase, then the top blocks on images', async () => {
  const ctx = await stageContext({
    stageId: 'train',
    matrix: { arch: 'mobilenet_v1_0.25', mode: 'finetune' },
    params: trainParams('finetune', 'mobilenet_v1_0.25', { epochs: 1 }) as never,
    deps: { split: splitDir, normalize: normalizeDir, 'features[arch=mobilenet_v1_0.25]': featuresDir },
  });
  await train.run(ctx as never);
  trained.finetune = ctx.outDir;
  const record = JSON.parse(readFileSync(join(ctx.outDir, 'train.json'), 'utf8'));
  const history = readFileSync(join(ctx.outDir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(history.map((h) => h.phase), ['head', 'finetune']);
  assert.ok(record.parameters.trainable > 256 * 4 + 4, 'the top blocks train too');
  assert.ok(record.parameters.trainable < record.parameters.total);
});

test('train scratch resumes from the checkpoint an interrupted run left', async () => {
  const stateDir = join(root, 'scratch-state');
  const first = await stageContext({
    stageId: 'train',
    matrix: { arch: 'small_cnn', mode: 'scratch' },
    params: trainParams('scratch', 'small_cnn', { epochs: 1 }) as never,
    deps: { split: splitDir, normalize: normalizeDir },
    stateDir,
  });
  await train.run(first as never); // stands for a run killed after its first epoch: the state stays
  const second = await stageContext({
    stageId: 'train',
    matrix: { arch: 'small_cnn', mode: 'scratch' },
    params: trainParams('scratch', 'small_cnn', { epochs: 2 }) as never,
    deps: { split: splitDir, normalize: normalizeDir },
    stateDir,
  });
  await train.run(second as never);
  trained.scratch = second.outDir;
  const record = JSON.parse(readFileSync(join(second.outDir, 'train.json'), 'utf8'));
  assert.is(record.epochs.resumedFrom, 1);
  assert.is(record.epochs.completed, 2);
  assert.is(record.weights, null);
  assert.ok(second.logs.some((l) => /resuming after epoch 1/.test(l)));
  const history = readFileSync(join(second.outDir, 'history.jsonl'), 'utf8').trim().split('\n');
  assert.is(history.length, 2);
});

test('train transfer with skipped features writes a skipped train.json and no model', async () => {
  const ctx = await stageContext({
    stageId: 'train',
    matrix: { arch: 'mobilenet_v1_0.25', mode: 'transfer' },
    params: trainParams('transfer', 'mobilenet_v1_0.25') as never,
    deps: { split: splitDir, normalize: normalizeDir, 'features[arch=mobilenet_v1_0.25]': join(root, 'features-skipped') },
  });
  await train.run(ctx as never);
  trained.skipped = ctx.outDir;
  const record = JSON.parse(readFileSync(join(ctx.outDir, 'train.json'), 'utf8'));
  assert.is(record.status, 'skipped');
  assert.match(record.reason, /^skipped: weights missing — put X at Y/);
  assert.not.ok(existsSync(join(ctx.outDir, 'model', 'model.json')));
});

async function writeShiftedSet(): Promise<string> {
  const dir = join(root, 'shifted');
  const items = [];
  for (const [i, c] of TINY_CLASSES.entries()) {
    await mkdir(join(dir, 'sets/white-tight', c), { recursive: true });
    const file = `sets/white-tight/${c}/s${i}.png`;
    // A larger cell on white: predict's path cuts and rescales it to the canonical cell.
    await writeFile(join(dir, file), await tinyCellPng(c, 100 + i, 60));
    items.push({ source: 'white-tight', file, class: c, origin: `${c}/x.jpg` });
  }
  await writeFile(join(dir, 'sets.json'), JSON.stringify({ items }));
  return dir;
}

test('evaluate: test split and shifted set separately, predictions.csv and misclassified.json agree', async () => {
  const shiftedDir = await writeShiftedSet();
  const ctx = await stageContext({
    stageId: 'evaluate',
    matrix: { arch: 'mobilenet_v1_0.25', mode: 'transfer' },
    params: { bootstrap: 200, seed: 1, batchSize: 3, primarySource: null, backend: 'wasm' },
    deps: { 'train[arch=mobilenet_v1_0.25,mode=transfer]': trained.transfer!, split: splitDir, normalize: normalizeDir, shifted: shiftedDir },
  });
  await evaluate.run(ctx as never);
  evaluated.transfer = ctx.outDir;
  const metrics = JSON.parse(readFileSync(join(ctx.outDir, 'metrics.json'), 'utf8'));
  assert.is(metrics.status, 'evaluated');
  assert.is(metrics.primarySource, 'tiny');
  assert.equal(Object.keys(metrics.sources).sort(), ['tiny', 'white-tight']);
  assert.is(metrics.test.n, 4);
  assert.is(metrics.sources['white-tight'].n, 2);
  assert.type(metrics.inference.msPerImage, 'number');
  assert.ok(metrics.test.accuracyCi.low <= metrics.test.accuracy && metrics.test.accuracy <= metrics.test.accuracyCi.high);
  const [header, ...rows] = parseCsvRows(readFileSync(join(ctx.outDir, 'predictions.csv'), 'utf8'));
  assert.equal(header, ['path', 'source', 'true', 'predicted', 'p_EOSINOPHIL', 'p_LYMPHOCYTE']);
  assert.is(rows.length, 6);
  const testRows = rows.filter((r) => r[1] === 'tiny');
  const correct = testRows.filter((r) => r[2] === r[3]).length;
  assert.is(metrics.test.correct, correct);
  assert.is(metrics.test.accuracy, correct / testRows.length);
  const confusionTotal = metrics.test.confusion.counts.flat().reduce((a: number, b: number) => a + b, 0);
  assert.is(confusionTotal, 4);
  const misclassified = JSON.parse(readFileSync(join(ctx.outDir, 'misclassified.json'), 'utf8'));
  assert.is(misclassified.length, rows.filter((r) => r[2] !== r[3]).length);
  for (const m of misclassified) {
    assert.ok(m.stage === 'normalize' || m.stage === 'shifted');
    assert.is(m.probabilities.length, 2);
  }
});

test('shifted-cells prepares each shifted image once; evaluate reads them only where its model\'s settings match, with the same predictions', async () => {
  const shiftedDir = join(root, 'shifted');
  // The settings the tiny transfer model recorded: cells of 24 px, margin 0.1, no normalisation.
  const settingsDir = async (name: string, margin: number) => {
    const dir = join(root, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'summary.json'), JSON.stringify({ params: { size: 24, margin } }));
    await writeFile(join(dir, 'normalize.json'), JSON.stringify({ method: 'none' }));
    return dir;
  };
  const prepare = async (margin: number) => {
    const dir = await settingsDir(`settings-${margin}`, margin);
    const inputs: InputFile[] = [];
    for (const c of TINY_CLASSES) {
      for (const name of await readdir(join(shiftedDir, 'sets/white-tight', c))) {
        const rel = `sets/white-tight/${c}/${name}`;
        inputs.push({ path: join(shiftedDir, rel), rel, hash: rel, fromInstance: 'shifted' });
      }
    }
    const ctx = await stageContext({ stageId: 'shifted-cells', params: {}, deps: { shifted: shiftedDir, segment: dir, normalize: dir }, inputs });
    await shiftedCells.processItems(ctx as never, inputs.map((input) => ({ input, outDir: ctx.outDir })));
    const files = inputs.map((input) => ({ input, files: [`records/shifted/${input.rel}.json`, `cells/shifted/${input.rel}.png`] }));
    await shiftedCells.finalize!(ctx as never, files);
    return ctx.outDir;
  };
  const matching = await prepare(0.1);
  const record = JSON.parse(readFileSync(join(matching, 'prepared-cells.json'), 'utf8'));
  assert.equal(record.cell, { size: 24, margin: 0.1 });
  assert.equal(record.normalization, { method: 'none' });
  assert.equal(record.items.map((it: { file: string }) => it.file), ['sets/white-tight/EOSINOPHIL/s0.png', 'sets/white-tight/LYMPHOCYTE/s1.png']);
  const cell = await sharp(join(matching, record.items[0].cell)).metadata();
  assert.equal([cell.width, cell.height, cell.channels], [24, 24, 3], 'a prepared cell is the canonical cell, before the resize to the model');

  const evaluateWith = async (preparedDir: string) => {
    const ctx = await stageContext({
      stageId: 'evaluate',
      matrix: { arch: 'mobilenet_v1_0.25', mode: 'transfer' },
      params: { bootstrap: 200, seed: 1, batchSize: 3, primarySource: null, backend: 'wasm' },
      deps: { 'train[arch=mobilenet_v1_0.25,mode=transfer]': trained.transfer!, split: splitDir, normalize: normalizeDir, shifted: shiftedDir, 'shifted-cells': preparedDir },
    });
    await evaluate.run(ctx as never);
    return { ctx, metrics: JSON.parse(readFileSync(join(ctx.outDir, 'metrics.json'), 'utf8')) };
  };
  const cutHere = readFileSync(join(evaluated.transfer!, 'predictions.csv'), 'utf8');
  const used = await evaluateWith(matching);
  assert.is(used.metrics.inference.shiftedPrepared, 2);
  assert.is(readFileSync(join(used.ctx.outDir, 'predictions.csv'), 'utf8'), cutHere, 'the same probabilities as cutting each image in evaluate');

  const other = await evaluateWith(await prepare(0.2));
  assert.is(other.metrics.inference.shiftedPrepared, 0, 'cells cut with another margin are not the model\'s');
  assert.ok(other.ctx.logs.some((l) => /shifted images cut here \(shifted-cells cut cells with other options than the model's\)/.test(l)), other.ctx.logs.join('\n'));
  assert.is(readFileSync(join(other.ctx.outDir, 'predictions.csv'), 'utf8'), cutHere);
});

test('evaluate of a skipped model writes skipped metrics', async () => {
  const ctx = await stageContext({
    stageId: 'evaluate',
    params: { bootstrap: 10, seed: 1, batchSize: 3, primarySource: null, backend: 'wasm' },
    deps: { train: trained.skipped!, split: splitDir, normalize: normalizeDir },
  });
  await evaluate.run(ctx as never);
  const metrics = JSON.parse(readFileSync(join(ctx.outDir, 'metrics.json'), 'utf8'));
  assert.is(metrics.status, 'skipped');
  assert.match(metrics.reason, /weights missing/);
  assert.is(metrics.test, null);
});

test('ensemble: transfer + finetune merged into one model; evaluate gives the mean of the members\' probabilities', async () => {
  const ctx = await stageContext({
    stageId: 'ensemble',
    matrix: { arch: 'mobilenet_v1_0.25', mode: 'ensemble' },
    params: { combine: 'mean' } as never,
    deps: { 'train[arch=mobilenet_v1_0.25,mode=transfer]': trained.transfer!, 'train[arch=mobilenet_v1_0.25,mode=finetune]': trained.finetune! },
  });
  await ensemble.run(ctx as never);
  trained.ensemble = ctx.outDir;
  const record = JSON.parse(readFileSync(join(ctx.outDir, 'train.json'), 'utf8'));
  assert.is(record.status, 'trained');
  assert.is(record.mode, 'ensemble');
  assert.equal(record.members.map((m: { instanceId: string; prefix: string }) => `${m.instanceId} ${m.prefix}`), [
    'train[arch=mobilenet_v1_0.25,mode=finetune] finetune__',
    'train[arch=mobilenet_v1_0.25,mode=transfer] transfer__',
  ]);
  assert.is(record.inputSize, 32);
  assert.is(record.preprocessing, 'tf');
  const members = [trained.transfer!, trained.finetune!].map((d) => JSON.parse(readFileSync(join(d, 'train.json'), 'utf8')));
  assert.is(record.seconds.training, Math.round((members[0].seconds.training + members[1].seconds.training) * 100) / 100);
  assert.ok(record.seconds.wall >= members[0].seconds.wall + members[1].seconds.wall - 0.01, 'its time is its members\' time');

  const shiftedDir = await writeShiftedSet();
  const probabilities: Record<string, Map<string, number[]>> = {};
  for (const [mode, dep] of [['transfer', 'train'], ['finetune', 'train'], ['ensemble', 'ensemble']] as const) {
    const id = `${dep}[arch=mobilenet_v1_0.25,mode=${mode}]`;
    const ev = await stageContext({
      stageId: 'evaluate',
      matrix: { arch: 'mobilenet_v1_0.25', mode },
      params: { bootstrap: 20, seed: 1, batchSize: 3, primarySource: null, backend: 'wasm' },
      deps: { [id]: trained[mode]!, split: splitDir, normalize: normalizeDir, shifted: shiftedDir },
    });
    await evaluate.run(ev as never);
    const [, ...rows] = parseCsvRows(readFileSync(join(ev.outDir, 'predictions.csv'), 'utf8'));
    probabilities[mode] = new Map(rows.map((r) => [r[0]!, [Number(r[4]), Number(r[5])]]));
    if (mode === 'ensemble') assert.is(JSON.parse(readFileSync(join(ev.outDir, 'metrics.json'), 'utf8')).mode, 'ensemble');
  }
  assert.is(probabilities.ensemble!.size, 6);
  for (const [path, p] of probabilities.ensemble!) {
    const a = probabilities.transfer!.get(path)!;
    const b = probabilities.finetune!.get(path)!;
    for (let c = 0; c < 2; c++) assert.ok(Math.abs(p[c]! - (a[c]! + b[c]!) / 2) < 1e-4, `${path}: ${p[c]} is not the mean of ${a[c]} and ${b[c]}`);
  }
});

test('ensemble: members that read different inputs are refused, naming the field; no trained member → skipped', async () => {
  const ctx = await stageContext({
    stageId: 'ensemble',
    matrix: { arch: 'mix', mode: 'ensemble' },
    params: { combine: 'mean' } as never,
    deps: { 'train[arch=mobilenet_v1_0.25,mode=transfer]': trained.transfer!, 'train[arch=small_cnn,mode=scratch]': trained.scratch! },
  });
  try {
    await ensemble.run(ctx as never);
    assert.unreachable('members with other preprocessing must be refused');
  } catch (error) {
    assert.match((error as Error).message, /members disagree on preprocessing: .* only models that read the same input can be averaged/);
  }
  assert.is(existsSync(join(ctx.outDir, 'model', 'model.json')), false, 'nothing half-written');

  const skipped = await stageContext({
    stageId: 'ensemble',
    params: { combine: 'mean' } as never,
    deps: { 'train[arch=resnet50,mode=transfer]': trained.skipped! },
  });
  await ensemble.run(skipped as never);
  const record = JSON.parse(readFileSync(join(skipped.outDir, 'train.json'), 'utf8'));
  assert.is(record.status, 'skipped');
  assert.match(record.reason, /no member was trained \(train\[arch=resnet50,mode=transfer\]: .*weights missing/);
  assert.is(existsSync(join(skipped.outDir, 'model')), false);
});

function commandContext(argv: string[], outputs: Record<string, string>): CommandContext & { logs: string[] } {
  const logs: string[] = [];
  return {
    argv,
    workspace: process.cwd(),
    outputDir: (id) => {
      const dir = outputs[id];
      if (!dir) throw new Error(`${id} has no current outputs`);
      return dir;
    },
    instances: (stageId) => Object.keys(outputs).filter((id) => id.startsWith(`${stageId}[`)),
    cacheDir: join(root, 'predict-cache'),
    log: (m) => logs.push(m),
    warn: (m) => logs.push(`warn: ${m}`),
    logs,
  };
}

test('predict on a folder writes CSV and JSON with a row per image; a bad file is an error row', async () => {
  const images = join(root, 'foreign');
  await mkdir(join(images, 'sub'), { recursive: true });
  await writeFile(join(images, 'a.png'), await tinyCellPng('EOSINOPHIL', 300, 50));
  await sharp(await tinyCellPng('LYMPHOCYTE', 301, 80)).jpeg().toFile(join(images, 'sub', 'b.jpg'));
  await writeFile(join(images, 'broken.png'), 'not an image');
  await writeFile(join(images, 'notes.txt'), 'ignored: not an image extension');
  const out = join(root, 'predict-out');
  const ctx = commandContext(['--model', trained.transfer!, '--out', out, images], {});
  const code = await predict.run(ctx);
  assert.is(code, 1, 'one unreadable image → exit code 1');
  const [header, ...rows] = parseCsvRows(readFileSync(join(out, 'predictions.csv'), 'utf8'));
  assert.equal(header, ['file', 'predicted', 'confidence', 'p_EOSINOPHIL', 'p_LYMPHOCYTE', 'cell_status', 'warning', 'error']);
  assert.is(rows.length, 3);
  const byName = Object.fromEntries(rows.map((r) => [r[0]!.split('/').pop(), r]));
  assert.ok(TINY_CLASSES.includes(byName['a.png']![1]!));
  const p = Number(byName['a.png']![3]) + Number(byName['a.png']![4]);
  assert.ok(Math.abs(p - 1) < 1e-4);
  assert.is(byName['broken.png']![1], '');
  assert.match(byName['broken.png']![7]!, /broken\.png/);
  const json = JSON.parse(readFileSync(join(out, 'predictions.json'), 'utf8'));
  assert.is(json.images.length, 3);
  assert.is(json.model.arch, 'mobilenet_v1_0.25');
});

test('predict without --model takes the evaluated model with the best test accuracy', async () => {
  const evalDir = async (accuracy: number, mode: string, shifted = 0.5) => {
    const dir = join(root, `eval-${mode}`);
    await mkdir(dir, { recursive: true });
    const sources = { tiny: { accuracy }, 'white-tight': { accuracy: shifted } };
    await writeFile(join(dir, 'metrics.json'), JSON.stringify({ status: 'evaluated', arch: mode === 'scratch' ? 'small_cnn' : 'mobilenet_v1_0.25', mode, primarySource: 'tiny', test: { accuracy }, sources }));
    return dir;
  };
  const outputs = {
    'train[arch=mobilenet_v1_0.25,mode=transfer]': trained.transfer!,
    'train[arch=small_cnn,mode=scratch]': trained.scratch!,
    'evaluate[arch=mobilenet_v1_0.25,mode=transfer]': await evalDir(0.5, 'transfer'),
    'evaluate[arch=small_cnn,mode=scratch]': await evalDir(0.75, 'scratch'),
  };
  const image = join(root, 'one.png');
  await writeFile(image, await tinyCellPng('EOSINOPHIL', 400, 40));
  const out = join(root, 'predict-best');
  const code = await predict.run(commandContext(['--out', out, image], outputs));
  assert.is(code, 0);
  const json = JSON.parse(readFileSync(join(out, 'predictions.json'), 'utf8'));
  assert.is(json.model.id, 'train[arch=small_cnn,mode=scratch]');
  assert.is(json.model.testAccuracy, 0.75);

  // A tie on the test split goes to the model that does better on the other sources: here the ensemble.
  const tied = {
    ...outputs,
    'ensemble[arch=mobilenet_v1_0.25,mode=ensemble]': trained.ensemble!,
    'evaluate[arch=mobilenet_v1_0.25,mode=ensemble]': await evalDir(0.75, 'ensemble', 0.9),
  };
  const outTie = join(root, 'predict-tie');
  assert.is(await predict.run(commandContext(['--out', outTie, image], tied)), 0);
  const tieJson = JSON.parse(readFileSync(join(outTie, 'predictions.json'), 'utf8'));
  assert.is(tieJson.model.id, 'ensemble[arch=mobilenet_v1_0.25,mode=ensemble]');
});

test('predict without --model prefers the backbone the leave-one-lab-out study measured, and of its models the transfer head the study held labs out for, over a better test split', async () => {
  const evalDir = async (accuracy: number, arch: string, mode: string) => {
    const dir = join(root, `eval-held-out-${mode}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'metrics.json'), JSON.stringify({ status: 'evaluated', arch, mode, primarySource: 'tiny', test: { accuracy }, sources: { tiny: { accuracy } } }));
    return dir;
  };
  const crossLab = join(root, 'cross-lab-mobilenet');
  await mkdir(crossLab, { recursive: true });
  const figures = (balanced: number) => ({ accuracy: balanced, balancedAccuracy: balanced, macroF1: balanced });
  await writeFile(
    join(crossLab, 'cross-lab.json'),
    JSON.stringify({ arch: 'mobilenet_v1_0.25', status: 'evaluated', adapt: 'adabn', labs: ['a', 'b'], classes: TINY_CLASSES, heldOut: [], curve: [], mean: { asTrained: figures(0.6), adapted: figures(0.7) } }),
  );
  const outputs = {
    'train[arch=mobilenet_v1_0.25,mode=transfer]': trained.transfer!,
    'train[arch=mobilenet_v1_0.25,mode=finetune]': trained.finetune!,
    'train[arch=small_cnn,mode=scratch]': trained.scratch!,
    'evaluate[arch=mobilenet_v1_0.25,mode=transfer]': await evalDir(0.5, 'mobilenet_v1_0.25', 'transfer'),
    'evaluate[arch=mobilenet_v1_0.25,mode=finetune]': await evalDir(0.6, 'mobilenet_v1_0.25', 'finetune'),
    'evaluate[arch=small_cnn,mode=scratch]': await evalDir(0.75, 'small_cnn', 'scratch'),
    'cross-lab[arch=mobilenet_v1_0.25]': crossLab,
  };
  const image = join(root, 'one.png');
  const out = join(root, 'predict-held-out');
  const ctx = commandContext(['--out', out, image], outputs);
  assert.is(await predict.run(ctx), 0);
  const json = JSON.parse(readFileSync(join(out, 'predictions.json'), 'utf8'));
  assert.is(json.model.id, 'train[arch=mobilenet_v1_0.25,mode=transfer]', 'the measured backbone and recipe, though its test split is lower (0.5 vs 0.6 finetuned, 0.75 scratch)');
  assert.match(json.testTimeAdaptation.crossLab, /leave-one-lab-out, mobilenet_v1_0\.25.*with AdaBN 70\.0%, balanced 70\.0% \(kept\)/);
  assert.ok(ctx.logs.some((l) => /with AdaBN 70\.0%/.test(l)), ctx.logs.join('\n'));
});

test('predict --adapt self-training trains the chosen model\'s head on the folder and says so, with the study\'s figure for it', async () => {
  const crossLab = join(root, 'cross-lab-self-trained');
  await mkdir(crossLab, { recursive: true });
  const figures = (balanced: number) => ({ accuracy: balanced, balancedAccuracy: balanced, macroF1: balanced });
  await writeFile(
    join(crossLab, 'cross-lab.json'),
    JSON.stringify({
      arch: 'mobilenet_v1_0.25', status: 'evaluated', adapt: 'self-training', selfTraining: { rounds: 2, portion: 0.5, epochs: 1, learningRate: 0.0001 },
      labs: ['a', 'b'], classes: TINY_CLASSES, heldOut: [], curve: [], mean: { asTrained: figures(0.6), adapted: figures(0.7), selfTrained: figures(0.75) },
    }),
  );
  const evalDir = join(root, 'eval-self-trained');
  await mkdir(evalDir, { recursive: true });
  await writeFile(join(evalDir, 'metrics.json'), JSON.stringify({ status: 'evaluated', arch: 'mobilenet_v1_0.25', mode: 'transfer', primarySource: 'tiny', test: { accuracy: 0.5 }, sources: { tiny: { accuracy: 0.5 } } }));
  const outputs = {
    'train[arch=mobilenet_v1_0.25,mode=transfer]': trained.transfer!,
    'evaluate[arch=mobilenet_v1_0.25,mode=transfer]': evalDir,
    'cross-lab[arch=mobilenet_v1_0.25]': crossLab,
  };
  const images = [join(root, 'st-eos.png'), join(root, 'st-lym.png'), join(root, 'st-eos-2.png')];
  await writeFile(images[0]!, await tinyCellPng('EOSINOPHIL', 400, 40));
  await writeFile(images[1]!, await tinyCellPng('LYMPHOCYTE', 400, 41));
  await writeFile(images[2]!, await tinyCellPng('EOSINOPHIL', 400, 42));
  const out = join(root, 'predict-self-trained');
  const ctx = commandContext(['--out', out, '--adapt', 'self-training', ...images], outputs);
  assert.is(await predict.run(ctx), 0);
  const json = JSON.parse(readFileSync(join(out, 'predictions.json'), 'utf8'));
  assert.is(json.testTimeAdaptation.applied, 'self-training');
  assert.is(json.testTimeAdaptation.images, 3);
  assert.equal(json.testTimeAdaptation.layers, ['head_standardize', 'head_dense', 'head_dropout', 'head_predictions']);
  assert.match(json.testTimeAdaptation.crossLab, /after self-training 75\.0%, balanced 75\.0% \(kept\)/);
  assert.match(json.testTimeAdaptation.crossLab, /with AdaBN 70\.0%, balanced 70\.0% \(not kept\)/);
  assert.ok(ctx.logs.some((l) => /test-time adaptation: self-training: the head trained on its own most confident labels of these 3 images/.test(l)), ctx.logs.join('\n'));
  assert.is(json.images.length, 3);
  for (const row of json.images) assert.ok(Math.abs(Object.values(row.probabilities as Record<string, number>).reduce((a, b) => a + b, 0) - 1) < 1e-4);
});

test.run();
