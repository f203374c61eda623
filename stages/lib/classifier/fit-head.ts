// Fitting the study's head on a matrix of feature vectors: by hand on the wasm heap where the backend
// and the head allow it (native-head-fit.ts, the same training up to float rounding at a fraction of the
// time), else through tfjs layers (training-loop.ts) on batches from the same matrix.
import type * as tf from '@tensorflow/tfjs';
import { memoryFeatureSource } from './feature-matrix.js';
import { canFitHeadNatively, fitHeadNatively, type HeadMatrix, type NativeFitOptions } from './native-head-fit.js';
import { fit, type FitResult } from './training-loop.js';

export type { HeadMatrix };

let nativeAllowed = true;

/** Switches the native head fit off (true: on where possible), for A/B runs and tests. */
export function setNativeHeadFit(on: boolean): void {
  nativeAllowed = on;
}

/** Whether `fitHeadOnMatrix` would fit this head natively. */
export function fitsHeadNatively(model: tf.LayersModel, optimizer: tf.Optimizer): boolean {
  return nativeAllowed && canFitHeadNatively(model, optimizer);
}

/** Trains `model` (a head of input [dim]) on `train`, validating on `val`; fit()'s options and result. */
export async function fitHeadOnMatrix(options: NativeFitOptions & { classes: number; dim: number }): Promise<FitResult> {
  if (fitsHeadNatively(options.model, options.optimizer)) return fitHeadNatively(options);
  const { classes, dim } = options;
  const source = (m: HeadMatrix, batchSize: number) => memoryFeatureSource(m.x, m.labels, { batchSize, classes, dim });
  return fit({
    model: options.model,
    optimizer: options.optimizer,
    train: source(options.train, options.batchSize),
    val: options.val && options.val.labels.length ? source(options.val, 256) : null,
    epochs: options.epochs,
    seed: options.seed,
    earlyStopping: options.earlyStopping,
    stateDir: options.stateDir,
    learningRate: options.learningRate ?? null,
    recalibrateBatchNorm: options.recalibrateBatchNorm ?? null,
    maxStepsPerEpoch: options.maxStepsPerEpoch ?? null,
    targets: options.targets ?? null,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.progress ? { progress: options.progress } : {}),
  });
}
