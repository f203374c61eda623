// An input gradient (transposed convolution) is a stride-1 forward convolution of the output
// gradient — with zeros inserted between its pixels when the forward stride was > 1 — by the
// spatially flipped filter. This file plans the padding and builds the zero-inserted gradient.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, dim, heapF32 } from '../wasm-kernel-utils.js';

export interface TransposedConvPlan {
  /** Explicit padding of the stride-1 forward conv (NHWC), all ≥ 0. */
  pad: tf.backend_util.ExplicitPadding;
  /** Rows/cols to drop from the top/left of its result (forward padding wider than the filter). */
  cropTop: number;
  cropLeft: number;
  /** Size of the stride-1 forward result before cropping. */
  fullHeight: number;
  fullWidth: number;
}

export function planTransposedConv(info: tf.backend_util.Conv2DInfo): TransposedConvPlan {
  const dilatedH = (info.outHeight - 1) * info.strideHeight + 1;
  const dilatedW = (info.outWidth - 1) * info.strideWidth + 1;
  const top = info.effectiveFilterHeight - 1 - info.padInfo.top;
  const left = info.effectiveFilterWidth - 1 - info.padInfo.left;
  // Bottom/right make the result exactly inHeight/inWidth (stride-1 conv: out = in + pads - k + 1).
  const bottom = info.inHeight - dilatedH - top + info.effectiveFilterHeight - 1;
  const right = info.inWidth - dilatedW - left + info.effectiveFilterWidth - 1;
  const padTop = Math.max(top, 0);
  const padLeft = Math.max(left, 0);
  const padBottom = Math.max(bottom, 0);
  const padRight = Math.max(right, 0);
  return {
    pad: [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]],
    cropTop: padTop - top,
    cropLeft: padLeft - left,
    fullHeight: dilatedH + padTop + padBottom - info.effectiveFilterHeight + 1,
    fullWidth: dilatedW + padLeft + padRight - info.effectiveFilterWidth + 1,
  };
}

/** dy with (stride-1) zeros between pixels; returns dy itself for stride 1. */
export function insertZeros(backend: BackendWasm, dy: TensorInfo, strideH: number, strideW: number): TensorInfo {
  if (strideH === 1 && strideW === 1) return dy;
  const [n, h, w, c] = [dim(dy.shape, 0), dim(dy.shape, 1), dim(dy.shape, 2), dim(dy.shape, 3)];
  const dh = (h - 1) * strideH + 1;
  const dw = (w - 1) * strideW + 1;
  const out = backend.makeOutput([n, dh, dw, c], 'float32');
  const src = heapF32(backend, dy);
  const dst = heapF32(backend, out);
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      const srcRow = ((b * h + y) * w) * c;
      const dstRow = ((b * dh + y * strideH) * dw) * c;
      for (let x = 0; x < w; x++) {
        dst.set(src.subarray(srcRow + x * c, srcRow + x * c + c), dstRow + x * strideW * c);
      }
    }
  }
  return out;
}
