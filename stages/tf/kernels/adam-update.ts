// One Adam step for one variable in a single pass over its memory: the new first and second moments
// and the new value. tfjs's Adam runs ten element-wise kernels per variable (each a pass over the whole
// kernel, each a fresh tensor): for the study's head on ResNet50 features (a 3840×256 kernel) that was
// ~15 of a step's ~39 ms. Here it is one SIMD pass (native/training-kernels.c adam_update), every
// operation one IEEE float32 operation in the order tfjs's AdamOptimizer applies them, so the results
// are the same bits as the stock ops'. Used by fused-adam-optimizer.ts; wasm only.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, size } from '../wasm-kernel-utils.js';
import { ptr, simdKernels } from '../simd-kernels.js';

export const ADAM_UPDATE = 'LeukopipeAdamUpdate';

/** Scalars as tfjs's AdamOptimizer forms them, already float32. */
export interface AdamUpdateAttrs {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
  epsilon: number;
  negativeLearningRate: number;
}

function adamUpdate(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo[] {
  const backend = args.backend as BackendWasm;
  const { value, gradient, m, v } = args.inputs as Record<'value' | 'gradient' | 'm' | 'v', TensorInfo>;
  for (const [name, t] of [['value', value], ['gradient', gradient], ['m', m], ['v', v]] as const) {
    if (t.dtype !== 'float32') throw new Error(`${ADAM_UPDATE}: ${name} is ${t.dtype}, expected float32`);
    if (size(t.shape) !== size(value.shape)) throw new Error(`${ADAM_UPDATE}: ${name} has shape [${t.shape.join(',')}], value [${value.shape.join(',')}]`);
  }
  const a = args.attrs as unknown as AdamUpdateAttrs;
  const outM = backend.makeOutput([...value.shape], 'float32');
  const outV = backend.makeOutput([...value.shape], 'float32');
  const outW = backend.makeOutput([...value.shape], 'float32');
  simdKernels(backend).adam_update(ptr(backend, value), ptr(backend, gradient), ptr(backend, m), ptr(backend, v),
    ptr(backend, outM), ptr(backend, outV), ptr(backend, outW), size(value.shape), a.beta1, a.oneMinusBeta1, a.beta2,
    a.oneMinusBeta2, a.oneMinusAccBeta1, a.oneMinusAccBeta2, a.epsilon, a.negativeLearningRate);
  return [outM, outV, outW];
}

export const adamUpdateConfig: tf.KernelConfig = {
  kernelName: ADAM_UPDATE,
  backendName: 'wasm',
  kernelFunc: adamUpdate as unknown as tf.KernelFunc,
};
