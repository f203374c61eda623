// Conv2DBackpropInput for wasm: the stock kernel is a naive loop (~2 GFLOP/s); this one runs the
// XNNPACK forward convolution on the zero-inserted gradient with the flipped, transposed filter.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, dim, dispose, heapF32, runStock } from '../wasm-kernel-utils.js';
import { insertZeros, planTransposedConv } from './transposed-conv-plan.js';
import { gemm } from './batch-mat-mul.js';
import { convAsGemm } from './conv-as-gemm.js';

/** filter [kh, kw, in, out] → [kh, kw, out, in], rotated 180° in space. */
export function flipTransposeFilter(backend: BackendWasm, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = [dim(filter.shape, 0), dim(filter.shape, 1), dim(filter.shape, 2), dim(filter.shape, 3)];
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  const src = heapF32(backend, filter);
  const dst = heapF32(backend, out);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      const s = ((kh - 1 - y) * kw + (kw - 1 - x)) * ci * co;
      const d = (y * kw + x) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) dst[d + o * ci + i] = src[s + i * co + o]!;
      }
    }
  }
  return out;
}

/** Crops a stride-1 result to the planned input shape (only when forward padding exceeded the filter). */
export function cropTo(backend: BackendWasm, full: TensorInfo, top: number, left: number, shape: number[]): TensorInfo {
  if (top === 0 && left === 0 && full.shape[1] === shape[1] && full.shape[2] === shape[2]) return full;
  const out = runStock(backend, 'Slice', { x: full }, { begin: [0, top, left, 0], size: shape });
  dispose(backend, full);
  return out;
}

function conv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (attrs.dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropInput supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad,
    attrs.dimRoundingMode, false, 'channelsLast');
  // A pointwise stride-1 convolution's input gradient is dy·Wᵀ: the product XNNPACK would compute below
  // (the same sums), without the transposed filter copy.
  const [kh, kw, ci, co] = filter.shape;
  if (kh === 1 && kw === 1 && info.strideHeight === 1 && info.strideWidth === 1 && info.padInfo.top === 0 && info.padInfo.left === 0
    && info.padInfo.bottom === 0 && info.padInfo.right === 0 && dy.dtype === 'float32' && ci !== undefined && co !== undefined) {
    const out = backend.makeOutput([...attrs.inputShape], 'float32');
    gemm(backend, dy, filter, out, { m: info.batchSize * info.outHeight * info.outWidth, k: co, n: ci, transposeB: true });
    return out;
  }
  const plan = planTransposedConv(info);
  const flipped = flipTransposeFilter(backend, filter);
  const spread = insertZeros(backend, dy, info.strideHeight, info.strideWidth);
  const convAttrs = { strides: [1, 1] as [number, number], pad: plan.pad, dataFormat: 'NHWC', dilations: [1, 1] as [number, number] };
  // The same bits either way (conv-as-gemm.ts); the matrix product is faster where it applies.
  const full = convAsGemm(backend, spread, flipped, convAttrs) ?? runStock(backend, 'Conv2D', { x: spread, filter: flipped }, convAttrs);
  if (spread !== dy) dispose(backend, spread);
  dispose(backend, flipped);
  return cropTo(backend, full, plan.cropTop, plan.cropLeft, [...attrs.inputShape]);
}

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc,
};
