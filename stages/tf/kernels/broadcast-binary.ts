// Add / Sub / Multiply / RealDiv for wasm when one operand is a scalar or a vector repeated along
// the other's trailing axes (a per-channel scale, a bias, a batch-norm statistic): stock wasm runs
// those broadcasts as a generic index loop (~10× slower than its same-shape path). Here they go to
// leukopipe's SIMD kernel; every other case (same shapes included) stays with the stock kernel.
// Each element is one IEEE operation, as on the cpu backend, so results are identical.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, runStock, size } from '../wasm-kernel-utils.js';
import { BINARY_OP, ptr, simdKernels } from '../simd-kernels.js';

type BinaryName = keyof typeof BINARY_OP;

/** Length of the repeated block if `small` broadcasts along `big`'s trailing axes, else null. */
export function trailingPeriod(big: readonly number[], small: readonly number[]): number | null {
  const n = size(small);
  if (n === 1) return small.length <= big.length ? 1 : null;
  let i = small.length - 1;
  let j = big.length - 1;
  // small = [1, …, 1, big[k..]] right-aligned
  while (i >= 0 && j >= 0 && small[i] === big[j]) { i--; j--; }
  for (; i >= 0; i--) if (small[i] !== 1) return null;
  return n;
}

function binary(name: BinaryName) {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo => {
    const backend = args.backend as BackendWasm;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const stock = () => runStock(backend, name, { a, b }, args.attrs ?? {});
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock();
    const sa = size(a.shape);
    const sb = size(b.shape);
    if (sa === sb || sa === 0 || sb === 0) return stock();
    const vecFirst = sa < sb;
    const [big, small] = vecFirst ? [b, a] : [a, b];
    const period = trailingPeriod(big.shape, small.shape);
    if (period === null || big.shape.length < small.shape.length) return stock();
    const out = backend.makeOutput([...big.shape], 'float32');
    simdKernels(backend).binary_broadcast(BINARY_OP[name], ptr(backend, big), ptr(backend, small), ptr(backend, out),
      size(big.shape), period, vecFirst ? 1 : 0);
    return out;
  };
}

const config = (name: BinaryName): tf.KernelConfig => ({
  kernelName: name,
  backendName: 'wasm',
  kernelFunc: binary(name) as unknown as tf.KernelFunc,
});

export const broadcastBinaryConfigs: tf.KernelConfig[] = (Object.keys(BINARY_OP) as BinaryName[]).map(config);
