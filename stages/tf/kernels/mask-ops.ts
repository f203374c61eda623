// The element-wise ops of activation gradients (ReLU6: x ≥ 0, x ≤ 6, and, select) for wasm: stock
// wasm compares against a scalar through its generic broadcast loop and runs LogicalAnd / Select as
// scalar loops; a MobileNet step spends ~16 % of its time there. Comparisons of float32 tensors with
// a scalar or a same-shape tensor, LogicalAnd of same-shape bools and Select of same-shape 32-bit
// tensors go to leukopipe's SIMD kernels; anything else to the stock kernels. Exact results.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, runStock, size } from '../wasm-kernel-utils.js';
import { COMPARE_OP, ptr, simdKernels } from '../simd-kernels.js';

type CompareName = keyof typeof COMPARE_OP;
type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function comparison(name: CompareName) {
  return (args: Args): TensorInfo => {
    const backend = args.backend as BackendWasm;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const n = size(a.shape);
    const bScalar = size(b.shape) === 1 && b.shape.length <= a.shape.length;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || n === 0 || !(bScalar || sameShape(a.shape, b.shape))) {
      return runStock(backend, name, { a, b }, args.attrs ?? {});
    }
    const out = backend.makeOutput([...a.shape], 'bool');
    simdKernels(backend).compare(COMPARE_OP[name], ptr(backend, a), ptr(backend, b), ptr(backend, out), n, bScalar ? 1 : 0);
    return out;
  };
}

function logicalAnd(args: Args): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const n = size(a.shape);
  if (a.dtype !== 'bool' || b.dtype !== 'bool' || n === 0 || !sameShape(a.shape, b.shape)) {
    return runStock(backend, 'LogicalAnd', { a, b }, args.attrs ?? {});
  }
  const out = backend.makeOutput([...a.shape], 'bool');
  simdKernels(backend).logical_and(ptr(backend, a), ptr(backend, b), ptr(backend, out), n);
  return out;
}

function select(args: Args): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { condition, t, e } = args.inputs as { condition: TensorInfo; t: TensorInfo; e: TensorInfo };
  const n = size(t.shape);
  const wide = t.dtype === 'float32' || t.dtype === 'int32';
  if (!wide || e.dtype !== t.dtype || condition.dtype !== 'bool' || n === 0
    || !sameShape(t.shape, e.shape) || !sameShape(condition.shape, t.shape)) {
    return runStock(backend, 'Select', { condition, t, e }, args.attrs ?? {});
  }
  const out = backend.makeOutput([...t.shape], t.dtype);
  simdKernels(backend).select32(ptr(backend, condition), ptr(backend, t), ptr(backend, e), ptr(backend, out), n);
  return out;
}

export const maskOpConfigs: tf.KernelConfig[] = [
  ...(Object.keys(COMPARE_OP) as CompareName[]).map((name): tf.KernelConfig => ({
    kernelName: name, backendName: 'wasm', kernelFunc: comparison(name) as unknown as tf.KernelFunc,
  })),
  { kernelName: 'LogicalAnd', backendName: 'wasm', kernelFunc: logicalAnd as unknown as tf.KernelFunc },
  { kernelName: 'Select', backendName: 'wasm', kernelFunc: select as unknown as tf.KernelFunc },
];
