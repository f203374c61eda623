// Sum / Mean over leading axes for wasm (e.g. batch-norm statistics and bias gradients reduce an
// NHWC tensor over N, H, W): stock wasm first transposes the reduced axes to the end with a slow
// generic transpose. Here the tensor is seen as a [rows, cols] matrix whose rows are summed by
// leukopipe's SIMD kernel (sum_rows: float32 blocks of 64 rows added into float64), one pass over
// memory. (An XNNPACK product ones[1, rows] · x, the previous version, repacks x on every call.)
// Other reductions go to the stock kernels.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, heapF32, runStock, size } from '../wasm-kernel-utils.js';
import { ptr, simdKernels, withScratch } from '../simd-kernels.js';

function leadingReduction(name: 'Sum' | 'Mean') {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo => {
    const backend = args.backend as BackendWasm;
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (x.dtype !== 'float32' || !leading) return runStock(backend, name, { x }, args.attrs ?? {});
    const rows = size(x.shape.slice(0, axes.length));
    const cols = size(x.shape.slice(axes.length));
    const outShape = keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
    if (rows === 0 || cols === 0) {
      const empty = backend.makeOutput(outShape, 'float32');
      heapF32(backend, empty).fill(name === 'Mean' ? NaN : 0);
      return empty;
    }
    const out = backend.makeOutput(outShape, 'float32');
    withScratch(backend, [4 * cols, 8 * cols], (part, acc) => {
      simdKernels(backend).sum_rows(ptr(backend, x), rows, cols, ptr(backend, out), part!, acc!, name === 'Mean' ? rows : 1);
    });
    return out;
  };
}

export const sumConfig: tf.KernelConfig = {
  kernelName: 'Sum',
  backendName: 'wasm',
  kernelFunc: leadingReduction('Sum') as unknown as tf.KernelFunc,
};

export const meanConfig: tf.KernelConfig = {
  kernelName: 'Mean',
  backendName: 'wasm',
  kernelFunc: leadingReduction('Mean') as unknown as tf.KernelFunc,
};
