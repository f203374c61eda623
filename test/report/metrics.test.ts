import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapAccuracy,
  bootstrapInterval,
  computeEvaluationMetrics,
  confusionMatrix,
  parsePredictionsCsv,
  perClassMetrics,
  predictionsToCsv,
  quantileSorted,
 
  wilsonInterval,
  type Prediction,
} from '../../stages/lib/metrics/evaluation-metrics.js';
import { mulberry32 } from '../../stages/lib/random.js';

const classes = ['EOSINOPHIL', 'LYMPHOCYTE', 'MONOCYTE', 'NEUTROPHIL'];
const close = (a: number | null | undefined, b: number, eps = 1e-9) => {
  assert.ok(a !== null && a !== undefined && Math.abs(a - b) < eps, `expected ${b}, got ${a}`);
};

// Worked by hand: 10 images.
//   true EO: EO EO NE      -> EO tp 2, fn 1
//   true LY: LY LY LY MO   -> LY tp 3, fn 1
//   true MO: MO LY         -> MO tp 1, fn 1
//   true NE: NE            -> NE tp 1
const pairs: [string, string][] = [
  ['EOSINOPHIL', 'EOSINOPHIL'], ['EOSINOPHIL', 'EOSINOPHIL'], ['EOSINOPHIL', 'NEUTROPHIL'],
  ['LYMPHOCYTE', 'LYMPHOCYTE'], ['LYMPHOCYTE', 'LYMPHOCYTE'], ['LYMPHOCYTE', 'LYMPHOCYTE'], ['LYMPHOCYTE', 'MONOCYTE'],
  ['MONOCYTE', 'MONOCYTE'], ['MONOCYTE', 'LYMPHOCYTE'],
  ['NEUTROPHIL', 'NEUTROPHIL'],
];
const predictions: Prediction[] = pairs.map(([t, p], i) => ({ path: `img${i}.png`, source: 'pbc', trueClass: t, predictedClass: p }));

test('confusion matrix counts true rows × predicted columns', () => {
  const m = confusionMatrix(predictions, classes);
  assert.equal(m.counts, [
    [2, 0, 0, 1],
    [0, 3, 1, 0],
    [0, 1, 1, 0],
    [0, 0, 0, 1],
  ]);
});

test('per-class precision, recall and F1 match the hand computation', () => {
  const pc = perClassMetrics(confusionMatrix(predictions, classes));
  const [eo, ly, mo, ne] = pc;
  close(eo!.precision, 1); close(eo!.recall, 2 / 3); close(eo!.f1, 0.8);
  close(ly!.precision, 3 / 4); close(ly!.recall, 3 / 4); close(ly!.f1, 0.75);
  close(mo!.precision, 1 / 2); close(mo!.recall, 1 / 2); close(mo!.f1, 0.5);
  close(ne!.precision, 1 / 2); close(ne!.recall, 1); close(ne!.f1, 2 / 3);
  assert.equal(pc.map((c) => c.support), [3, 4, 2, 1]);
  assert.equal(pc.map((c) => c.predicted), [2, 4, 2, 2]);
});

test('accuracy, macro-F1 and Wilson interval of the whole set', () => {
  const m = computeEvaluationMetrics(predictions, { classes, primarySource: 'pbc', resamples: 500, seed: 7, instanceId: 'evaluate[x]', arch: 'a', mode: 'transfer' });
  close(m.test!.accuracy, 0.7);
  assert.is(m.test!.correct, 7);
  close(m.test!.macroF1, (0.8 + 0.75 + 0.5 + 2 / 3) / 4);
  // Wilson 95% for 7/10, z = 1.959964: centre 0.6557, half-width 0.2472 (computed by hand).
  close(m.test!.accuracyWilson!.low, 0.3967781, 1e-5);
  close(m.test!.accuracyWilson!.high, 0.8922087, 1e-5);
  assert.is(m.test!.logLoss, null);
});

test('undefined scores are null, not NaN, and do not enter macro-F1', () => {
  const only = [{ trueClass: 'EOSINOPHIL', predictedClass: 'EOSINOPHIL' }, { trueClass: 'EOSINOPHIL', predictedClass: 'LYMPHOCYTE' }];
  const pc = perClassMetrics(confusionMatrix(only, classes));
  assert.is(pc[2]!.precision, null);
  assert.is(pc[2]!.recall, null);
  assert.is(pc[2]!.f1, null);
  assert.is(pc[1]!.recall, null);
  close(pc[1]!.f1, 0);
  const m = computeEvaluationMetrics(only.map((p, i) => ({ ...p, path: `${i}`, source: 's' })), { classes, primarySource: 's', resamples: 50, seed: 1, instanceId: 'i', arch: 'a', mode: 'm' });
  close(m.test!.macroF1, (2 / 3 + 0) / 2);
});

test('an unknown class is an error naming the prediction and class', () => {
  assert.throws(() => confusionMatrix([{ trueClass: 'BASOPHIL', predictedClass: 'EOSINOPHIL' }], classes), /prediction 0 .*BASOPHIL/);
});

test('bootstrap CI is reproducible with a seed, differs with another, and contains the point estimate', () => {
  const correct = Array.from({ length: 200 }, (_, i) => i % 10 !== 0); // 90 %
  const a = bootstrapAccuracy(correct, { resamples: 1000, seed: 42 })!;
  const b = bootstrapAccuracy(correct, { resamples: 1000, seed: 42 })!;
  const c = bootstrapAccuracy(correct, { resamples: 1000, seed: 43 })!;
  assert.equal(a, b);
  // Another seed draws other resamples (the interval itself may coincide: accuracy is discrete).
  const draws = (seed: number) => {
    const seen: number[] = [];
    bootstrapInterval(50, (idx) => (seen.push(idx[0]!), 0), { resamples: 20, seed });
    return seen;
  };
  assert.equal(draws(42), draws(42));
  assert.not.equal(draws(42), draws(43));
  assert.ok(c.low < 0.9 && 0.9 < c.high);
  assert.ok(a.low < 0.9 && 0.9 < a.high, `${a.low}..${a.high}`);
  // Normal approximation: ±1.96·sqrt(.9·.1/200) = ±0.0416; the bootstrap should be close to it.
  assert.ok(Math.abs(a.high - a.low - 2 * 0.0416) < 0.015, `width ${a.high - a.low}`);
  assert.is(a.method, 'bootstrap-percentile');
  assert.is(a.resamples, 1000);
});

test('seeded random is deterministic and uniform-looking', () => {
  const r1 = mulberry32(5);
  const r2 = mulberry32(5);
  const xs = Array.from({ length: 10000 }, () => r1());
  assert.equal(xs.slice(0, 5), Array.from({ length: 5 }, () => r2()));
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.01);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

test('quantile interpolates between order statistics', () => {
  close(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  close(quantileSorted([1, 2, 3, 4], 0), 1);
  close(quantileSorted([1, 2, 3, 4], 1), 4);
});

test('wilson interval at the edges stays inside [0, 1]', () => {
  const w = wilsonInterval(10, 10)!;
  assert.is(w.high, 1);
  assert.ok(w.low > 0.6 && w.low < 0.75);
  assert.is(wilsonInterval(0, 0), null);
});

test('sources are measured separately; test is the primary source', () => {
  const shifted: Prediction[] = [
    { path: 's1', source: 'stain-shift', trueClass: 'EOSINOPHIL', predictedClass: 'NEUTROPHIL', probabilities: [0.1, 0.1, 0.1, 0.7] },
    { path: 's2', source: 'stain-shift', trueClass: 'NEUTROPHIL', predictedClass: 'NEUTROPHIL', probabilities: [0.2, 0.1, 0.1, 0.6] },
  ];
  const m = computeEvaluationMetrics([...predictions, ...shifted], { classes, primarySource: 'pbc', resamples: 100, seed: 1, instanceId: 'i', arch: 'a', mode: 'm' });
  assert.equal(Object.keys(m.sources), ['pbc', 'stain-shift']);
  close(m.sources['stain-shift']!.accuracy, 0.5);
  close(m.sources['stain-shift']!.logLoss, -(Math.log(0.1) + Math.log(0.6)) / 2);
  assert.is(m.test!.n, 10);
});

test('a probability vector of the wrong length is an error naming the image', () => {
  assert.throws(
    () => computeEvaluationMetrics([{ path: 'bad.png', source: 'pbc', trueClass: 'EOSINOPHIL', predictedClass: 'EOSINOPHIL', probabilities: [1] }], { classes, primarySource: 'pbc', resamples: 10, seed: 1, instanceId: 'i', arch: 'a', mode: 'm' }),
    /bad\.png/,
  );
});

test('predictions.csv round-trips, quoting commas', () => {
  const ps: Prediction[] = [
    { path: 'a,b.png', source: 'pbc', trueClass: 'EOSINOPHIL', predictedClass: 'MONOCYTE', probabilities: [0.25, 0.25, 0.4, 0.1] },
    { path: 'c.png', source: 'white-tight', trueClass: 'MONOCYTE', predictedClass: 'MONOCYTE' },
  ];
  const csv = predictionsToCsv(ps, classes);
  assert.ok(csv.startsWith('path,source,true,predicted,p_EOSINOPHIL,'));
  const back = parsePredictionsCsv(csv);
  assert.equal(back.classes, classes);
  assert.equal(back.predictions, ps);
});
test.run();
