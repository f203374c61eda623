// Kernels behind fused-gradients.ts (not tfjs kernels: only leukopipe's gradient functions call
// them, on wasm). Each is one SIMD pass of native/training-kernels.c computing exactly the float32
// operations of the tfjs gradient formula it replaces, in its order — the same bits, fewer passes.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, size } from '../wasm-kernel-utils.js';
import { ptr, simdKernels, withScratch } from '../simd-kernels.js';

export const RELU_GRAD = 'LeukopipeReluGrad';
export const SQUARE_GRAD = 'LeukopipeSquareGrad';
export const CLIP_GRAD = 'LeukopipeClipGrad';
export const BATCH_NORM_GRAD = 'LeukopipeBatchNormGrad';

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function float32Inputs(kernel: string, inputs: Record<string, TensorInfo>, n: number): void {
  for (const [name, t] of Object.entries(inputs)) {
    if (t.dtype !== 'float32') throw new Error(`${kernel}: ${name} is ${t.dtype}, expected float32`);
    if (n >= 0 && size(t.shape) !== n) throw new Error(`${kernel}: ${name} has ${size(t.shape)} values, expected ${n}`);
  }
}

/** dy and x of one shape → one output of that shape. */
function elementwise(kernel: string, run: (backend: BackendWasm, dy: TensorInfo, x: TensorInfo, out: TensorInfo, n: number, attrs: tf.NamedAttrMap) => void) {
  return (args: Args): TensorInfo => {
    const backend = args.backend as BackendWasm;
    const { dy, x } = args.inputs as { dy: TensorInfo; x: TensorInfo };
    const n = size(x.shape);
    float32Inputs(kernel, { dy, x }, n);
    const out = backend.makeOutput([...x.shape], 'float32');
    if (n > 0) run(backend, dy, x, out, n, args.attrs ?? {});
    return out;
  };
}

const reluGrad = elementwise(RELU_GRAD, (b, dy, x, out, n) => simdKernels(b).relu_grad(ptr(b, dy), ptr(b, x), ptr(b, out), n));
const squareGrad = elementwise(SQUARE_GRAD, (b, dy, x, out, n) => simdKernels(b).square_grad(ptr(b, dy), ptr(b, x), ptr(b, out), n));
const clipGrad = elementwise(CLIP_GRAD, (b, dy, x, out, n, attrs) => {
  const { min, max } = attrs as unknown as { min: number; max: number };
  simdKernels(b).clip_grad(ptr(b, dy), ptr(b, x), ptr(b, out), n, min, max);
});

/** Inputs x, dy ([rows, cols] in memory) and per-column mean, r, negR, m, scale → [dx, dMean, dVar, dScale, dOffset]. */
function batchNormGrad(args: Args): TensorInfo[] {
  const backend = args.backend as BackendWasm;
  const inputs = args.inputs as Record<'x' | 'dy' | 'mean' | 'r' | 'negR' | 'm' | 'scale', TensorInfo>;
  const { x, dy } = inputs;
  const cols = x.shape[x.shape.length - 1] ?? 0;
  const n = size(x.shape);
  float32Inputs(BATCH_NORM_GRAD, { x, dy }, n);
  float32Inputs(BATCH_NORM_GRAD, { mean: inputs.mean, r: inputs.r, negR: inputs.negR, m: inputs.m, scale: inputs.scale }, cols);
  const dx = backend.makeOutput([...x.shape], 'float32');
  const stats = [0, 1, 2, 3].map(() => backend.makeOutput([cols], 'float32'));
  const [dMean, dVar, dScale, dOffset] = stats as [TensorInfo, TensorInfo, TensorInfo, TensorInfo];
  if (n > 0) {
    withScratch(backend, [16 * cols, 32 * cols], (part, acc) => {
      simdKernels(backend).batch_norm_grad(ptr(backend, x), ptr(backend, dy), ptr(backend, inputs.mean), ptr(backend, inputs.r),
        ptr(backend, inputs.negR), ptr(backend, inputs.m), ptr(backend, inputs.scale), n / cols, cols,
        ptr(backend, dx), ptr(backend, dMean), ptr(backend, dVar), ptr(backend, dScale), ptr(backend, dOffset), part!, acc!);
    });
  }
  return [dx, dMean, dVar, dScale, dOffset];
}

const config = (kernelName: string, kernelFunc: (args: Args) => TensorInfo | TensorInfo[]): tf.KernelConfig =>
  ({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });

export const fusedGradientKernelConfigs: tf.KernelConfig[] = [
  config(RELU_GRAD, reluGrad),
  config(SQUARE_GRAD, squareGrad),
  config(CLIP_GRAD, clipGrad),
  config(BATCH_NORM_GRAD, batchNormGrad),
];
