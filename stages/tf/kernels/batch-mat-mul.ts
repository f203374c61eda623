// BatchMatMul / _FusedMatMul for wasm with transposed operands: stock wasm runs those as a slow
// loop (~2 GFLOP/s measured, vs ~25 untransposed), and every Dense layer's gradient asks for one.
// Transposing the operand first (a cache-blocked copy in JS) and running the untransposed XNNPACK
// product is ~10× faster.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, dispose, heapF32, runStock, size } from '../wasm-kernel-utils.js';

const BLOCK = 32;

/** Swaps the last two axes of a float32 tensor. */
export function transposeLastTwo(backend: BackendWasm, t: TensorInfo): TensorInfo {
  const rank = t.shape.length;
  const rows = t.shape[rank - 2]!;
  const cols = t.shape[rank - 1]!;
  const batch = size(t.shape.slice(0, -2));
  const out = backend.makeOutput([...t.shape.slice(0, -2), cols, rows], 'float32');
  const src = heapF32(backend, t);
  const dst = heapF32(backend, out);
  for (let b = 0; b < batch; b++) transposeMatrix(src, b * rows * cols, rows, cols, dst, b * rows * cols);
  return out;
}

/** dst[dstOff + c·rows + r] = src[srcOff + r·cols + c], in cache-sized blocks. */
export function transposeMatrix(src: Float32Array, srcOff: number, rows: number, cols: number, dst: Float32Array, dstOff: number): void {
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const r1 = Math.min(rows, r0 + BLOCK);
    for (let c0 = 0; c0 < cols; c0 += BLOCK) {
      const c1 = Math.min(cols, c0 + BLOCK);
      for (let r = r0; r < r1; r++) {
        const s = srcOff + r * cols;
        for (let c = c0; c < c1; c++) dst[dstOff + c * rows + r] = src[s + c]!;
      }
    }
  }
}

function untransposed(name: string) {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo => {
    const backend = args.backend as BackendWasm;
    const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const ta = attrs.transposeA && a.dtype === 'float32' ? transposeLastTwo(backend, a) : null;
    const tb = attrs.transposeB && b.dtype === 'float32' ? transposeLastTwo(backend, b) : null;
    const out = runStock(backend, name, { ...args.inputs, a: ta ?? a, b: tb ?? b } as Record<string, TensorInfo>,
      { ...attrs, transposeA: ta ? false : attrs.transposeA, transposeB: tb ? false : attrs.transposeB });
    dispose(backend, ta, tb);
    return out;
  };
}

export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  kernelFunc: untransposed('BatchMatMul') as unknown as tf.KernelFunc,
};

export const fusedMatMulConfig: tf.KernelConfig = {
  kernelName: '_FusedMatMul',
  backendName: 'wasm',
  kernelFunc: untransposed('_FusedMatMul') as unknown as tf.KernelFunc,
};
