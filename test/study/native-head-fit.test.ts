// The head fitted natively on the wasm heap (native-head-fit.ts) against the same fit through tfjs layers:
// the same batches, dropout masks, loss and Adam, so the same training up to float rounding.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../stages/tf/backend.js';
import { createHeadLayers, headModel } from '../../stages/lib/classifier/graph-surgery.js';
import { createOptimizer } from '../../stages/lib/classifier/optimizer.js';
import { fitHeadOnMatrix, fitsHeadNatively, setNativeHeadFit, type HeadMatrix } from '../../stages/lib/classifier/fit-head.js';
import { mulberry32 } from '../../stages/lib/random.js';
import type { TargetShaping } from '../../stages/lib/classifier/loss-targets.js';

await initBackend({ prefer: 'wasm', quiet: true });

const DIM = 24;
const CLASSES = 3;

/** Rows whose class shifts their mean, so the head has something to learn. */
function matrix(n: number, seed: number): HeadMatrix {
  const random = mulberry32(seed);
  const labels = Array.from({ length: n }, () => Math.floor(random() * CLASSES));
  const x = new Float32Array(n * DIM);
  labels.forEach((label, i) => {
    for (let d = 0; d < DIM; d++) x[i * DIM + d] = 3 * random() + (d % CLASSES === label ? 1.5 : 0) + d * 0.2;
  });
  return { x, labels };
}

async function fitOnce(native: boolean, options: { standardize?: boolean; targets?: TargetShaping | null; epochs?: number; stateDir?: string } = {}) {
  setNativeHeadFit(native);
  try {
    const model = headModel(DIM, createHeadLayers(CLASSES, 7, { standardize: options.standardize ?? true }));
    const { optimizer } = createOptimizer({ name: 'adam', learningRate: 0.01 }, 'test');
    const usedNative = fitsHeadNatively(model, optimizer);
    const result = await fitHeadOnMatrix({
      model, optimizer, classes: CLASSES, dim: DIM, train: matrix(90, 1), val: matrix(40, 2), batchSize: 16, epochs: options.epochs ?? 3, seed: 5,
      earlyStopping: { patience: 5 }, recalibrateBatchNorm: 2, targets: options.targets ?? null,
      stateDir: options.stateDir ?? mkdtempSync(join(tmpdir(), 'head-fit-')),
    });
    const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
    const predictions = Array.from((model.predict(tf.tensor2d(matrix(40, 2).x, [40, DIM])) as tf.Tensor).dataSync());
    model.dispose();
    return { result, weights, predictions, usedNative };
  } finally {
    setNativeHeadFit(true);
  }
}

const maxRelative = (a: number[][], b: number[][]) =>
  Math.max(...a.flatMap((w, i) => w.map((v, j) => Math.abs(v - b[i]![j]!) / Math.max(1e-3, Math.abs(b[i]![j]!)))));

const cases: [string, Parameters<typeof fitOnce>[1]][] = [
  ['BatchNorm head', {}],
  ['head without standardisation', { standardize: false }],
  ['balanced weights and label smoothing', { targets: { classWeights: [0.8, 1.1, 1.2], labelSmoothing: 0.1 } }],
];
for (const [name, options] of cases) {
  test(`${name}: the native fit follows the tfjs fit epoch by epoch and ends on the same weights up to rounding`, async () => {
    const native = await fitOnce(true, options);
    const reference = await fitOnce(false, options);
    assert.ok(native.usedNative && !reference.usedNative);
    assert.is(native.result.history.length, reference.result.history.length);
    native.result.history.forEach((r, i) => {
      const ref = reference.result.history[i]!;
      assert.ok(Math.abs(r.loss - ref.loss) < 1e-4, `epoch ${r.epoch} loss ${r.loss} vs ${ref.loss}`);
      assert.ok(Math.abs(r.val_loss! - ref.val_loss!) < 1e-4, `epoch ${r.epoch} val_loss ${r.val_loss} vs ${ref.val_loss}`);
      assert.is(r.accuracy, ref.accuracy);
      assert.is(r.learning_rate, ref.learning_rate);
    });
    assert.is(native.result.weightsFromEpoch, reference.result.weightsFromEpoch);
    assert.ok(maxRelative(native.weights, reference.weights) < 1e-3, `weights differ by ${maxRelative(native.weights, reference.weights)}`);
    assert.ok(maxRelative([native.predictions], [reference.predictions]) < 1e-3);
  });
}

test('the native fit is reproducible bit for bit, and an interrupted fit resumes to the same weights', async () => {
  const a = await fitOnce(true);
  const b = await fitOnce(true);
  assert.equal(a.weights, b.weights);
  const stateDir = mkdtempSync(join(tmpdir(), 'head-fit-'));
  const partial = await fitOnce(true, { epochs: 2, stateDir });
  assert.is(partial.result.state.epochsDone, 2);
  assert.ok(readdirSync(stateDir).includes('native-checkpoint'));
  const resumed = await fitOnce(true, { epochs: 3, stateDir });
  assert.is(resumed.result.resumedFromEpoch, 2);
  assert.equal(resumed.result.history.map((r) => r.loss), a.result.history.map((r) => r.loss));
  assert.equal(resumed.weights, a.weights);
});

test.run();
