// MaxPoolGrad for wasm: the gradient goes to the first maximum of each window (as on the cpu
// backend); the stock kernel was the second-slowest kernel of a small-CNN training step.
// Non-overlapping windows (stride = pool size, every pooling layer of our models): leukopipe's
// SIMD kernel, which writes dx window by window. Overlapping windows: a JS loop with channels
// inner, so x and dy are read in memory order.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, heapF32 } from '../wasm-kernel-utils.js';
import { ptr, simdKernels } from '../simd-kernels.js';

function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth } = info;
  const fh = info.effectiveFilterHeight;
  const fw = info.effectiveFilterWidth;
  const dx = backend.makeOutput([...input.shape], 'float32');
  if (strideHeight === fh && strideWidth === fw && input.dtype === 'float32') {
    simdKernels(backend).max_pool_grad_tiled(ptr(backend, input), ptr(backend, dy), ptr(backend, dx), batchSize, inHeight, inWidth, c,
      outHeight, outWidth, fh, fw, info.padInfo.top, info.padInfo.left);
    return dx;
  }
  const xv = heapF32(backend, input);
  const dyv = heapF32(backend, dy);
  const dxv = heapF32(backend, dx);
  dxv.fill(0);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - info.padInfo.top;
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - info.padInfo.left;
        best.fill(-Infinity);
        where.fill(-1);
        for (let fy = 0; fy < fh; fy++) {
          const iy = y0 + fy;
          if (iy < 0 || iy >= inHeight) continue;
          for (let fx = 0; fx < fw; fx++) {
            const ix = x0 + fx;
            if (ix < 0 || ix >= inWidth) continue;
            const o = ((b * inHeight + iy) * inWidth + ix) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = xv[o + ch]!;
              if (v > best[ch]! || where[ch] === -1) { best[ch] = v; where[ch] = o + ch; }
            }
          }
        }
        const g = ((b * outHeight + oy) * outWidth + ox) * c;
        for (let ch = 0; ch < c; ch++) {
          const w = where[ch]!;
          if (w >= 0) dxv[w]! += dyv[g + ch]!;
        }
      }
    }
  }
  return dx;
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
