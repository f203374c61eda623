// Batch normalisation in training mode as two kernels instead of tfjs-layers' eleven (not tfjs
// kernels: only batch-norm-training-layer.ts calls them, on wasm). tfjs-layers builds the training
// pass from tf.moments — Mean, Sub, Square, Mean — then FusedBatchNorm, and differentiating that
// adds Tile, SquareGrad, Sum, Neg, Tile and two Adds over activation-sized tensors. Here:
//  - BATCH_NORM_TRAINING: mean (sum_rows, as Mean), variance (sum_sq_dev_rows: the same sums of the
//    same float32 squares, as Mean(Square(Sub))), then the FusedBatchNorm kernel itself;
//  - MOMENTS_GRAD: what those moments ops add to FusedBatchNorm's x gradient, computed as tfjs's
//    tape computes it (native/training-kernels.c, moments_grad), in one reduction and one pass.
// The same float32 operations in the same order, so the same bits (test/tf/fused-gradients.test.ts).
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, size } from '../wasm-kernel-utils.js';
import { ptr, simdKernels, withScratch } from '../simd-kernels.js';
import { fusedBatchNormConfig } from './fused-batch-norm.js';

export const BATCH_NORM_TRAINING = 'LeukopipeBatchNormTraining';
export const MOMENTS_GRAD = 'LeukopipeMomentsGrad';

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** [rows, cols] of a tensor whose last axis is the channel axis; throws on anything but float32 of that many channels. */
function channelMatrix(kernel: string, x: TensorInfo, perChannel: Record<string, TensorInfo | undefined>): [number, number] {
  const cols = x.shape[x.shape.length - 1] ?? 0;
  if (x.dtype !== 'float32') throw new Error(`${kernel}: x is ${x.dtype}, expected float32`);
  for (const [name, t] of Object.entries(perChannel)) {
    if (!t || t.dtype !== 'float32' || size(t.shape) !== cols) throw new Error(`${kernel}: ${name} must be float32 with ${cols} values`);
  }
  return [cols === 0 ? 0 : size(x.shape) / cols, cols];
}

/** Inputs x (…, C), scale and offset (C) → [y, batch mean, batch variance]. */
function batchNormTraining(args: Args): TensorInfo[] {
  const backend = args.backend as BackendWasm;
  const { x, scale, offset } = args.inputs as Record<'x' | 'scale' | 'offset', TensorInfo>;
  const [rows, cols] = channelMatrix(BATCH_NORM_TRAINING, x, { scale, offset });
  if (rows === 0) throw new Error(`${BATCH_NORM_TRAINING}: an empty batch has no statistics`);
  const mean = backend.makeOutput([cols], 'float32');
  const variance = backend.makeOutput([cols], 'float32');
  const k = simdKernels(backend);
  withScratch(backend, [4 * cols, 8 * cols], (part, acc) => {
    k.sum_rows(ptr(backend, x), rows, cols, ptr(backend, mean), part!, acc!, rows);
    k.sum_sq_dev_rows(ptr(backend, x), ptr(backend, mean), rows, cols, ptr(backend, variance), part!, acc!, rows);
  });
  // tf.batchNorm hands FusedBatchNorm a 4-D x (rank 2 as [1, 1, N, C]), and the kernel's 4-D path (an
  // XNNPACK 1×1 depthwise conv, float32 multiply then add) differs from its other-rank loop in the last bit.
  const x4 = x.shape.length === 4 ? x : { ...x, shape: [1, 1, rows, cols] };
  const y = fusedBatchNormConfig.kernelFunc({ inputs: { x: x4, mean, variance, offset, scale }, backend, attrs: args.attrs ?? {} } as never) as TensorInfo;
  return [{ ...y, shape: [...x.shape] }, mean, variance];
}

/** Inputs x, mean, dx (FusedBatchNorm's x gradient), dMean, dVar (its mean and variance gradients) → x's whole gradient. */
function momentsGrad(args: Args): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, mean, dx, dMean, dVar } = args.inputs as Record<'x' | 'mean' | 'dx' | 'dMean' | 'dVar', TensorInfo>;
  const [rows, cols] = channelMatrix(MOMENTS_GRAD, x, { mean, dMean, dVar });
  if (dx.dtype !== 'float32' || size(dx.shape) !== size(x.shape)) throw new Error(`${MOMENTS_GRAD}: dx must be float32 of x's shape`);
  const out = backend.makeOutput([...x.shape], 'float32');
  if (rows === 0) return out;
  withScratch(backend, [4 * cols, 8 * cols, 4 * cols, 4 * cols], (part, acc, dvn, dmn) => {
    simdKernels(backend).moments_grad(ptr(backend, x), ptr(backend, mean), ptr(backend, dMean), ptr(backend, dVar), rows, rows, cols,
      ptr(backend, dx), ptr(backend, out), part!, acc!, dvn!, dmn!);
  });
  return out;
}

const config = (kernelName: string, kernelFunc: (args: Args) => TensorInfo | TensorInfo[]): tf.KernelConfig =>
  ({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });

export const batchNormTrainingKernelConfigs: tf.KernelConfig[] = [
  config(BATCH_NORM_TRAINING, batchNormTraining),
  config(MOMENTS_GRAD, momentsGrad),
];
