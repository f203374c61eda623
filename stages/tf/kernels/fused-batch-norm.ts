// FusedBatchNorm for wasm: per-channel statistics are folded into one multiplier and one offset
// (y = x·a[c] + b[c]), applied by XNNPACK as a 1×1 depthwise convolution with bias on NHWC input;
// the stock kernel was ~20% of a ResNet50 inference step. Other ranks use a JS loop; statistics
// that are not per-channel (or scalar) go to the stock kernel.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, dispose, heapF32, runStock, size } from '../wasm-kernel-utils.js';

function fusedBatchNorm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const inputs = args.inputs as { x: TensorInfo; mean: TensorInfo; variance: TensorInfo; offset?: TensorInfo; scale?: TensorInfo };
  const { varianceEpsilon } = args.attrs as unknown as tf.FusedBatchNormAttrs;
  const { x, mean, variance, offset, scale } = inputs;
  const channels = x.shape[x.shape.length - 1] ?? 1;
  const perChannel = (t: TensorInfo | undefined) => !t || size(t.shape) === channels || size(t.shape) === 1;
  if (x.dtype !== 'float32' || ![mean, variance, offset, scale].every(perChannel)) {
    return runStock(backend, 'FusedBatchNorm', args.inputs as Record<string, TensorInfo>, args.attrs ?? {});
  }
  const at = (t: TensorInfo | undefined, fallback: number) => {
    if (!t) return () => fallback;
    const v = heapF32(backend, t);
    return v.length === 1 ? () => v[0]! : (c: number) => v[c]!;
  };
  const m = at(mean, 0);
  const v = at(variance, 1);
  const o = at(offset, 0);
  const s = at(scale, 1);
  const a = new Float32Array(channels);
  const b = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    a[c] = s(c) / Math.sqrt(v(c) + varianceEpsilon);
    b[c] = o(c) - m(c) * a[c]!;
  }
  if (x.shape.length === 4) {
    const filter = backend.makeOutput([1, 1, channels, 1], 'float32');
    const bias = backend.makeOutput([channels], 'float32');
    heapF32(backend, filter).set(a);
    heapF32(backend, bias).set(b);
    const y = runStock(backend, 'FusedDepthwiseConv2D', { x, filter, bias },
      { strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC', activation: 'linear' });
    dispose(backend, filter, bias);
    return y;
  }
  const out = backend.makeOutput([...x.shape], 'float32');
  const xv = heapF32(backend, x);
  const ov = heapF32(backend, out);
  const n = xv.length;
  for (let base = 0; base < n; base += channels) {
    for (let c = 0; c < channels; c++) ov[base + c] = xv[base + c]! * a[c]! + b[c]!;
  }
  return out;
}

export const fusedBatchNormConfig: tf.KernelConfig = {
  kernelName: 'FusedBatchNorm',
  backendName: 'wasm',
  kernelFunc: fusedBatchNorm as unknown as tf.KernelFunc,
};
