// Self-training that refits a fresh head on the training labs' rows plus the held-out lab's most confident
// cells, instead of training the held-out head on those cells alone (what the cross-lab stage and `pipe
// predict` do, stages/lib/classifier/self-training.ts). A predict folder has no training-lab rows, so this is
// a bench comparison only: bench/cross-lab-methods.ts, SELF_TRAIN_REFIT=rounds:final-portion[:adabn].
import type * as tf from '@tensorflow/tfjs';
import type { HeldOutAdaptation } from '../../stages/cross-lab.js';
import { adaptStandardization, predictFeatureMatrix } from '../../stages/lib/classifier/feature-matrix.js';
import { selfTrain } from '../../stages/lib/classifier/self-training.js';

/** Probabilities of `model` on `x` (with AdaBN where `adabn`), leaving the model as it was. */
function heldOutProbabilities(model: tf.LayersModel, x: Float32Array, dim: number, adabn: boolean): number[][] {
  const restore = adabn ? adaptStandardization(model, x, dim) : null;
  const p = predictFeatureMatrix(model, x, dim);
  restore?.();
  return p;
}

/** `adabn`: the labels come from, and the held-out lab is scored by, the heads with AdaBN instead of as trained. */
export function refitSelfTraining(rounds: number, portion: number, seed: number, adabn: boolean): HeldOutAdaptation {
  return async ({ model, train, heldOut, dim, fitHead }) =>
    selfTrain(heldOutProbabilities(model, heldOut, dim, adabn), { rounds, portion }, async (rows, labels, round) => {
      const x = new Float32Array(train.x.length + rows.length * dim);
      x.set(train.x);
      rows.forEach((row, i) => x.set(heldOut.subarray(row * dim, (row + 1) * dim), train.x.length + i * dim));
      const refitted = await fitHead({ x, labels: [...train.labels, ...labels] }, seed, `self-training-${round}`);
      const p = heldOutProbabilities(refitted, heldOut, dim, adabn);
      refitted.dispose();
      return p;
    });
}
