// The cross-lab stage through its real module on cached vectors written here: the leave-one-lab-out
// heads are fitted and scored, and a labelling-curve point whose held-out lab has no test cell left
// (every group holds a labelled cell) is recorded empty without fitting a head.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import crossLab, { standardizeRowsByGroup, type CrossLabParams } from '../../stages/cross-lab.js';
import { HELD_OUT_PREDICTIONS, type CrossLabRecord } from '../../stages/lib/records/cross-lab-record.js';
import { parsePredictionsCsv } from '../../stages/lib/metrics/predictions-csv.js';
import { stageContext } from './context.js';
import { tempDir } from '../data/context.js';

process.env.LEUKOPIPE_BACKEND = 'wasm';
const DIM = 4;

/**
 * alpha: 6 cells a class, each its own group; beta: 3 cells a class, all in one capture session. With
 * `variants`, an augment stage's augment.json and that many variants' vectors of every cell, as augment and
 * features lay them out.
 */
async function writeStudy(root: string, variants = 0): Promise<{ splitDir: string; featuresDir: string; augmentDir?: string }> {
  const splitDir = join(root, 'split');
  const featuresDir = join(root, 'features');
  await mkdir(splitDir, { recursive: true });
  const rows: Record<'train' | 'val' | 'test', string[]> = { train: [], val: [], test: [] };
  let n = 0;
  for (const [lab, perClass] of [['alpha', 6], ['beta', 3]] as const) {
    for (const [c, cls] of ['A', 'B'].entries()) {
      for (let i = 0; i < perClass; i++) {
        const file = `normalize/cells/${lab}/${cls}/${lab}-${cls}-${i}.png`;
        const group = lab === 'beta' ? 'session:s1' : `image:${lab}-${cls}-${i}`;
        const split = i === 0 ? 'val' : i === 1 ? 'test' : 'train';
        rows[split].push(`${file},${cls},${lab},${group},labs/images/${lab}/${cls}/${lab}-${cls}-${i}.png`);
        // Separable by class, with a lab-specific offset.
        const vector = Float32Array.from({ length: DIM }, (_, d) => (d === c ? 2 : 0) + (lab === 'beta' ? 0.3 : 0) + 0.1 * Math.sin(++n));
        const path = join(featuresDir, 'features', `${file}.f32`);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, Buffer.from(vector.buffer));
        for (let k = 0; k < variants; k++) {
          // A variant: the cell's vector, moved a little.
          const variant = join(featuresDir, 'features', `augment/variants/${lab}/${cls}/${lab}-${cls}-${i}__v${k}.png.f32`);
          await mkdir(dirname(variant), { recursive: true });
          await writeFile(variant, Buffer.from(vector.map((v, d) => v + 0.2 * Math.cos(n + k + d)).buffer));
        }
      }
    }
  }
  for (const [name, lines] of Object.entries(rows)) await writeFile(join(splitDir, `${name}.csv`), ['file,class,lab,group,origin', ...lines].join('\n') + '\n');
  await writeFile(join(splitDir, 'split.json'), JSON.stringify({ cellsFrom: 'normalize', classes: ['A', 'B'] }));
  await writeFile(join(featuresDir, 'features.json'), JSON.stringify({
    status: 'computed', arch: 'test_arch', weights: 'imagenet', inputSize: 8, preprocessing: 'rescale', seed: 1, dim: DIM, variants: null, items: n, layout: 'features/<file>.f32',
  }));
  if (!variants) return { splitDir, featuresDir };
  const augmentDir = join(root, 'augment');
  await mkdir(augmentDir, { recursive: true });
  await writeFile(join(augmentDir, 'augment.json'), JSON.stringify(AUGMENT_SETTINGS(variants)));
  return { splitDir, featuresDir, augmentDir };
}

const AUGMENT_SETTINGS = (variants: number) => ({
  variants, seed: 1, rotation: 20, widthShift: 0.1, heightShift: 0.1, shear: 0.2, horizontalFlip: true, verticalFlip: true, fill: 'white', photometric: null, cytoplasmLoss: null,
});

// The head's settings every case shares; each case gives what it varies.
const HEAD_PARAMS = {
  epochs: 2, batchSize: 4, optimizer: { name: 'adam' as const, learningRate: 0.01 }, earlyStopping: null, seed: 1,
  standardizeFeatures: true, recalibrateBatchNorm: null, maxStepsPerEpoch: null, bootstrap: 20, backend: 'wasm',
};

function crossLabContext(study: { splitDir: string; featuresDir: string; augmentDir?: string }, params: Partial<CrossLabParams>) {
  return stageContext({
    stageId: 'cross-lab',
    matrix: { arch: 'test_arch' },
    deps: { split: study.splitDir, features: study.featuresDir, ...(study.augmentDir ? { augment: study.augmentDir } : {}) },
    params: { ...HEAD_PARAMS, ...params } as CrossLabParams,
  });
}

test('cross-lab: every lab held out in turn; a curve point with no test cell left fits no head', async () => {
  const ctx = await crossLabContext(await writeStudy(tempDir('leukopipe-cross-lab-')), { epochs: 1, curve: [0, 1], adapt: 'adabn' });
  await crossLab.run(ctx);
  const record = JSON.parse(readFileSync(join(ctx.outDir, 'cross-lab.json'), 'utf8')) as CrossLabRecord;
  assert.is(record.status, 'evaluated');
  assert.equal(record.labs, ['alpha', 'beta']);
  assert.equal(record.heldOut.map((h) => [h.lab, h.asTrained.n]), [['alpha', 12], ['beta', 6]]);
  const point = (lab: string, k: number) => record.curve.find((c) => c.lab === lab && c.k === k)!;
  // alpha, k = 1: one cell a class (its own group) joins training; the other 10 are the test.
  assert.is(point('alpha', 1).testN, 10);
  assert.ok(point('alpha', 1).accuracy !== null);
  assert.ok(existsSync(join(ctx.stateDir, 'alpha-k1')), 'a head was fitted for alpha at k = 1');
  // beta, k = 1: the chosen cells' session is the whole lab, so nothing is left to score.
  assert.equal({ ...point('beta', 1) }, { lab: 'beta', k: 1, added: 2, testN: 0, accuracy: null, balancedAccuracy: null, macroF1: null, accuracyCi: null });
  assert.not.ok(existsSync(join(ctx.stateDir, 'beta-k1')), 'no head is fitted for an empty test set');
  assert.ok(existsSync(join(ctx.stateDir, 'beta-k0')));
  assert.ok(ctx.logs.some((l) => l.startsWith('held out beta, k=1: no test cells left')), ctx.logs.join('\n'));
  // Per-cell predictions of the k = 0 heads, as trained and with AdaBN: every cell of each held-out lab once,
  // labelled with that lab, and scoring to the record's figures.
  for (const [file, figures] of [[HELD_OUT_PREDICTIONS.asTrained, 'asTrained'], [HELD_OUT_PREDICTIONS.adapted, 'adapted']] as const) {
    const { classes, predictions } = parsePredictionsCsv(readFileSync(join(ctx.outDir, file), 'utf8'), file);
    assert.equal(classes, ['A', 'B']);
    assert.equal(predictions.map((p) => p.source).sort(), [...Array(12).fill('alpha'), ...Array(6).fill('beta')]);
    assert.is(new Set(predictions.map((p) => p.path)).size, 18);
    for (const h of record.heldOut) {
      const mine = predictions.filter((p) => p.source === h.lab);
      assert.is(mine.filter((p) => p.predictedClass === p.trueClass).length / mine.length, h[figures]!.accuracy, `${file} ${h.lab}`);
      for (const p of mine) assert.ok(Math.abs(p.probabilities!.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    }
  }
});

test('cross-lab with headSeeds 2: each held-out cell gets the mean of the heads of seed s and s + 1', async () => {
  const study = await writeStudy(tempDir('leukopipe-cross-lab-seeds-'));
  const run = async (seed: number, headSeeds: number) => {
    const ctx = await crossLabContext(study, { seed, headSeeds, curve: [0], adapt: 'adabn' });
    await crossLab.run(ctx);
    const read = (file: string) => new Map(parsePredictionsCsv(readFileSync(join(ctx.outDir, file), 'utf8'), file).predictions.map((p) => [p.path, p.probabilities!]));
    return { asTrained: read(HELD_OUT_PREDICTIONS.asTrained), adapted: read(HELD_OUT_PREDICTIONS.adapted), stateDir: ctx.stateDir };
  };
  const [one, two, both] = [await run(1, 1), await run(2, 1), await run(1, 2)];
  assert.ok(existsSync(join(both.stateDir, 'alpha-k0-head2')), 'the second head has its own state');
  for (const figure of ['asTrained', 'adapted'] as const) {
    assert.is(both[figure].size, 18);
    for (const [path, probabilities] of both[figure]) {
      const expected = one[figure].get(path)!.map((v, c) => (v + two[figure].get(path)![c]!) / 2);
      // The CSV keeps six decimals.
      probabilities.forEach((v, c) => assert.ok(Math.abs(v - expected[c]!) < 2e-6, `${figure} ${path}: ${probabilities} vs ${expected}`));
    }
  }
});

test('adapt self-training: the held-out figure is the self-trained head\'s, round by round, at k = 0 only', async () => {
  const ctx = await crossLabContext(await writeStudy(tempDir('leukopipe-cross-lab-self-training-')), {
    curve: [0, 1], adapt: 'self-training', selfTraining: { rounds: 2, portion: 0.5 },
  });
  await crossLab.run(ctx);
  const record = JSON.parse(readFileSync(join(ctx.outDir, 'cross-lab.json'), 'utf8')) as CrossLabRecord;
  assert.is(record.adapt, 'self-training');
  assert.equal(record.selfTraining, { rounds: 2, portion: 0.5, epochs: 5, learningRate: 1e-4, views: 0 }, 'the settings given, the rest the defaults; no augment stage, no views');
  assert.is(record.views, undefined);
  for (const lab of ['alpha', 'beta']) {
    for (const round of [1, 2]) assert.ok(existsSync(join(ctx.stateDir, `${lab}-k0-self-training`, `self-training-${round}`)), `${lab}: round ${round} trained the head`);
    assert.not.ok(existsSync(join(ctx.stateDir, `${lab}-k1-self-training`)), 'no self-training once the head has seen the lab');
  }
  const { predictions } = parsePredictionsCsv(readFileSync(join(ctx.outDir, HELD_OUT_PREDICTIONS.selfTrained), 'utf8'), HELD_OUT_PREDICTIONS.selfTrained);
  assert.is(predictions.length, 18);
  for (const h of record.heldOut) {
    const mine = predictions.filter((p) => p.source === h.lab);
    assert.is(mine.filter((p) => p.predictedClass === p.trueClass).length / mine.length, h.selfTrained!.accuracy, h.lab);
    const k0 = record.curve.find((c) => c.lab === h.lab && c.k === 0)!;
    assert.is(k0.figure, 'self-trained');
    assert.is(k0.accuracy, h.selfTrained!.accuracy);
    assert.ok(h.adapted, 'AdaBN is still measured beside it');
  }
  assert.is(record.curve.find((c) => c.lab === 'alpha' && c.k === 1)!.figure, 'as-trained');
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.is(record.mean.selfTrained!.accuracy, mean(record.heldOut.map((h) => h.selfTrained!.accuracy!)));
});

test('curveSelfTraining: the k > 0 points self-train on the rest of the lab too, with the as-trained figure beside', async () => {
  const ctx = await crossLabContext(await writeStudy(tempDir('leukopipe-cross-lab-curve-self-training-')), {
    curve: [0, 1], adapt: 'self-training', selfTraining: { rounds: 2, portion: 0.5 }, curveSelfTraining: true,
  });
  await crossLab.run(ctx);
  const record = JSON.parse(readFileSync(join(ctx.outDir, 'cross-lab.json'), 'utf8')) as CrossLabRecord;
  assert.match(record.protocol, /k > 0 points are self-trained/);
  for (const round of [1, 2]) assert.ok(existsSync(join(ctx.stateDir, 'alpha-k1-self-training', `self-training-${round}`)), `alpha k=1: round ${round} trained the head`);
  // beta is one session: its labelled cells take all of it, so nothing is left to self-train on.
  assert.not.ok(existsSync(join(ctx.stateDir, 'beta-k1-self-training')));
  assert.is(record.curve.find((c) => c.lab === 'beta' && c.k === 1)!.testN, 0);
  const point = record.curve.find((c) => c.lab === 'alpha' && c.k === 1)!;
  assert.is(point.figure, 'self-trained');
  assert.ok(point.asTrained, 'the as-trained figure is kept beside it');
  assert.is(point.testN, 10, 'alpha\'s 12 cells less one labelled cell per class');
  // The leave-one-lab-out rows are k = 0's, unchanged by the option.
  assert.is(record.heldOut.length, 2);
  // The held-out predictions are k = 0's only.
  const { predictions } = parsePredictionsCsv(readFileSync(join(ctx.outDir, HELD_OUT_PREDICTIONS.selfTrained), 'utf8'), HELD_OUT_PREDICTIONS.selfTrained);
  assert.is(predictions.length, 18);
});

test('curveAnchors: the curve\'s labelled cells join its self-training; the record and its protocol say so, and k = 0 is unchanged', async () => {
  const study = await writeStudy(tempDir('leukopipe-cross-lab-curve-anchors-'));
  const run = async (curveAnchors: boolean) => {
    const ctx = await crossLabContext(study, { curve: [0, 1], adapt: 'self-training', selfTraining: { rounds: 2, portion: 0.5 }, curveSelfTraining: true, curveAnchors });
    await crossLab.run(ctx);
    return JSON.parse(readFileSync(join(ctx.outDir, 'cross-lab.json'), 'utf8')) as CrossLabRecord;
  };
  const [anchored, plain] = [await run(true), await run(false)];
  assert.is(anchored.curveAnchors, true);
  assert.is(plain.curveAnchors, undefined);
  assert.match(anchored.protocol, /the labelled cells joining every round with their classes \(pipe predict --labelled\)/);
  assert.not.match(plain.protocol, /--labelled/);
  assert.equal(anchored.heldOut, plain.heldOut, 'no labelled cells at k = 0: the leave-one-lab-out rows are the same');
  const point = anchored.curve.find((c) => c.lab === 'alpha' && c.k === 1)!;
  assert.is(point.figure, 'self-trained');
  assert.is(point.testN, 10);
});

test('self-training views: the augment stage\'s variants of each held-out cell, as many as it and the features give', async () => {
  const study = await writeStudy(tempDir('leukopipe-cross-lab-views-'), 2);
  const run = async (selfTraining: CrossLabParams['selfTraining']) => {
    const ctx = await crossLabContext(study, { curve: [0], adapt: 'self-training', selfTraining: { rounds: 2, portion: 0.5, ...selfTraining } });
    await crossLab.run(ctx);
    const record = JSON.parse(readFileSync(join(ctx.outDir, 'cross-lab.json'), 'utf8')) as CrossLabRecord;
    const { predictions } = parsePredictionsCsv(readFileSync(join(ctx.outDir, HELD_OUT_PREDICTIONS.selfTrained), 'utf8'), HELD_OUT_PREDICTIONS.selfTrained);
    return { record, probabilities: predictions.map((p) => p.probabilities!) };
  };
  const withViews = await run({});
  // The default asks for 4; augment made 2.
  assert.is(withViews.record.selfTraining!.views, 2);
  assert.equal(withViews.record.views, AUGMENT_SETTINGS(2), 'how the views were made, for pipe predict');
  const alone = await run({ views: 0 });
  assert.is(alone.record.selfTraining!.views, 0);
  assert.is(alone.record.views, undefined);
  assert.not.equal(withViews.probabilities, alone.probabilities, 'the views change what the head learns and its result');
  // features.variants 1: only the first variant has vectors to use.
  const record = JSON.parse(readFileSync(join(study.featuresDir, 'features.json'), 'utf8'));
  await writeFile(join(study.featuresDir, 'features.json'), JSON.stringify({ ...record, variants: 1 }));
  assert.is((await run({})).record.selfTraining!.views, 1);
});

test('standardizePerLab: each lab\'s rows take mean 0 and variance ≈ 1 from that lab\'s own statistics', () => {
  // Rows 0, 2, 4 are lab a (values 1, 3, 5 in column 0); rows 1, 3 lab b (10, 30); column 1 constant.
  const x = Float32Array.from([1, 7, 10, 7, 3, 7, 30, 7, 5, 7]);
  standardizeRowsByGroup(x, 2, ['a', 'b', 'a', 'b', 'a']);
  const column = (rows: number[], c: number) => rows.map((r) => x[r * 2 + c]!);
  for (const rows of [[0, 2, 4], [1, 3]]) {
    const v = column(rows, 0);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
    assert.ok(Math.abs(mean) < 1e-6 && Math.abs(variance - 1) < 1e-3, `${v}`);
    assert.equal(column(rows, 1), rows.map(() => 0)); // a constant column becomes 0, not NaN
  }
});

test.run();
