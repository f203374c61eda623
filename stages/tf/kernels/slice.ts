// Slice for wasm as a few long block copies. Stock wasm copies a 4-D slice one innermost row at a
// time (e.g. 16 channels: 65,536 tiny copies for the gradient of one ZeroPadding2D of a MobileNet
// step). Here the trailing axes the slice keeps whole are merged into one contiguous run first,
// so cropping a padded feature map copies one image row (W·C values) at a time. Other dtypes and
// any slice with nothing to merge go to the stock kernel. A copy: exact.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, heapView, runStock, size } from '../wasm-kernel-utils.js';

function slice(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: TensorInfo };
  const { begin, size: sizeAttr } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
  const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo & { rank: number }, begin, sizeAttr) as [number[], number[]];
  const shape = x.shape;
  const rank = shape.length;
  // Innermost axis `axis` such that every axis after it is kept whole: runs of s[axis]·(inner size).
  let axis = rank - 1;
  while (axis > 0 && b[axis] === 0 && s[axis] === shape[axis]) axis--;
  const inner = size(shape.slice(axis + 1));
  const run = (s[axis] ?? 1) * inner;
  if (x.dtype === 'string' || rank < 2 || run < 64 || size(s) === 0) return runStock(backend, 'Slice', { x }, args.attrs ?? {});
  const out = backend.makeOutput(s, x.dtype);
  const src = heapView(backend, x);
  const dst = heapView(backend, out);
  const strides = tf.util.computeStrides(shape);
  const idx = new Array<number>(axis).fill(0);
  let o = 0;
  for (;;) {
    let off = (b[axis] ?? 0) * inner;
    for (let a = 0; a < axis; a++) off += ((b[a] ?? 0) + idx[a]!) * strides[a]!;
    dst.set(src.subarray(off, off + run), o);
    o += run;
    // Next outer index, last axis fastest.
    let a = axis - 1;
    for (; a >= 0; a--) {
      if (++idx[a]! < s[a]!) break;
      idx[a] = 0;
    }
    if (a < 0) break;
  }
  return out;
}

export const sliceConfig: tf.KernelConfig = {
  kernelName: 'Slice',
  backendName: 'wasm',
  kernelFunc: slice as unknown as tf.KernelFunc,
};
