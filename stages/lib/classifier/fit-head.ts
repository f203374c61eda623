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
  const { classes, dim, train, val, batchSize, ...rest } = options;
  const source = (m: HeadMatrix, size: number) => memoryFeatureSource(m.x, m.labels, { batchSize: size, classes, dim });
  return fit({ ...rest, train: source(train, batchSize), val: val && val.labels.length ? source(val, 256) : null });
}
