// DepthwiseConv2dNativeBackpropFilter for wasm (missing in stock): dF[ky,kx,c,m] =
// Σ x[n, y·s+ky·d−pad, x·s+kx·d−pad, c] · dy[n, y, x, c·M+m]. Multiplier 1 (every MobileNet):
// leukopipe's SIMD kernel (depthwise_filter_grad: channels in SIMD lanes, float32 sums per output
// row added into float64), ~0.2 → several GFLOP/s. Other multipliers: one pass over dy in JS with
// contiguous channel loops and float64 accumulators.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, dim, heapF32 } from '../wasm-kernel-utils.js';
import { ptr, simdKernels, withScratch } from '../simd-kernels.js';

function depthwiseBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, attrs.dilations ?? 1,
    attrs.pad, attrs.dimRoundingMode, true, 'channelsLast');
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, filterHeight: kh, filterWidth: kw } = info;
  const m = dim(attrs.filterShape, 3);
  const cm = c * m;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  if (m === 1) {
    const taps = kh * kw * c;
    const out = backend.makeOutput([...attrs.filterShape], 'float32');
    withScratch(backend, [8 * taps, 4 * taps], (acc64, part) => {
      const k = simdKernels(backend);
      k.depthwise_filter_grad(ptr(backend, x), ptr(backend, dy), acc64!, part!, batchSize, inHeight, inWidth, c,
        outHeight, outWidth, kh, kw, sh, sw, dh, dw, padTop, padLeft);
      k.narrow_f64(acc64!, ptr(backend, out), taps);
    });
    return out;
  }
  const acc = new Float64Array(kh * kw * cm);
  const xv = heapF32(backend, x);
  const dyv = heapF32(backend, dy);
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const g = ((b * outHeight + oy) * outWidth + ox) * cm;
        for (let fy = 0; fy < kh; fy++) {
          const iy = oy * sh - padTop + fy * dh;
          if (iy < 0 || iy >= inHeight) continue;
          for (let fx = 0; fx < kw; fx++) {
            const ix = ox * sw - padLeft + fx * dw;
            if (ix < 0 || ix >= inWidth) continue;
            const xo = ((b * inHeight + iy) * inWidth + ix) * c;
            const ao = (fy * kw + fx) * cm;
            for (let ch = 0; ch < c; ch++) {
              const xval = xv[xo + ch]!;
              for (let q = 0; q < m; q++) acc[ao + ch * m + q]! += xval * dyv[g + ch * m + q]!;
            }
          }
        }
      }
    }
  }
  const out = backend.makeOutput([...attrs.filterShape], 'float32');
  heapF32(backend, out).set(acc);
  return out;
}

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter as unknown as tf.KernelFunc,
};
