// Conv2DBackpropFilter for wasm (missing in stock): dW[ky, kx, in, out] =
// Σ_{n, oy, ox} x[n, oy·s + ky − padTop, ox·s + kx − padLeft, in] · dy[n, oy, ox, out], by
// leukopipe's SIMD kernel (conv_filter_grad) straight from the NHWC tensors: per filter tap, a
// 4 in × 8 out register tile runs over a block of ≥ 512 output pixels (float32; rows of several
// images when they are small), and each block's sums are added into float64. No im2col buffer, no transpose, no packing of dy (the previous
// version built colsᵀ in JS and called an XNNPACK product that repacked dy on every call).
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm, TensorInfo } from '../wasm-kernel-utils.js';
import { ptr, simdKernels, withScratch } from '../simd-kernels.js';

function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (attrs.dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropFilter supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad,
    attrs.dimRoundingMode, false, 'channelsLast');
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const n = filterHeight * filterWidth * inChannels * outChannels;
  const out = backend.makeOutput([...attrs.filterShape], 'float32');
  const k = simdKernels(backend);
  withScratch(backend, [8 * n, 4 * n, 8 * k.conv_filter_grad_block_rows(outWidth)], (acc64, part, rowTable) => {
    k.conv_filter_grad(ptr(backend, x), ptr(backend, dy), acc64!, part!, rowTable!, batchSize, inHeight, inWidth, inChannels,
      outHeight, outWidth, outChannels, filterHeight, filterWidth, info.strideHeight, info.strideWidth,
      info.padInfo.top, info.padInfo.left);
    k.narrow_f64(acc64!, ptr(backend, out), n);
  });
  return out;
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
