// Sum / Mean over leading axes for wasm (e.g. batch-norm statistics and bias gradients reduce an
// NHWC tensor over N, H, W): stock wasm first transposes the reduced axes to the end with a slow
// generic transpose. Here the tensor is seen as a [rows, cols] matrix and reduced by the XNNPACK
// product ones[1, rows] · x (measured 4–8× faster than the stock path and than a JS loop).
// Other reductions go to the stock kernels.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, dispose, heapF32, reshape, runStock, size } from '../wasm-kernel-utils.js';

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
    const weights = backend.makeOutput([1, 1, rows], 'float32');
    heapF32(backend, weights).fill(name === 'Mean' ? 1 / rows : 1);
    const matrix = reshape(backend, x, [1, rows, cols]);
    const product = runStock(backend, 'BatchMatMul', { a: weights, b: matrix }, { transposeA: false, transposeB: false });
    const out = reshape(backend, product, outShape);
    dispose(backend, weights, matrix, product);
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
