// BatchMatMul / _FusedMatMul for wasm. Three ways to compute a plain single-matrix product, all giving
// XNNPACK's bits (each output summed from +0 in k order): native gemm_f32 when the right operand is new —
// every Dense product in training — since XNNPACK would pack it afresh; otherwise XNNPACK's product, whose
// packing of a constant operand is cached, on operands transposed first where asked (stock wasm runs
// transposed products as a slow loop, ~2 GFLOP/s), or the swapped form below where the cost model says.
// bench/matmul-strategies.ts times each way.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, dispose, runStock, size } from '../wasm-kernel-utils.js';
import { ptr, simdKernels, withScratch } from '../simd-kernels.js';

/** Swaps the last two axes of a float32 tensor. */
export function transposeLastTwo(backend: BackendWasm, t: TensorInfo): TensorInfo {
  const rank = t.shape.length;
  const rows = t.shape[rank - 2]!;
  const cols = t.shape[rank - 1]!;
  const batch = size(t.shape.slice(0, -2));
  const out = backend.makeOutput([...t.shape.slice(0, -2), cols, rows], 'float32');
  simdKernels(backend).transpose_matrices(ptr(backend, t), ptr(backend, out), batch, rows, cols);
  return out;
}

/**
 * Stock wasm hands the right operand to XNNPACK as "weights", packed afresh for every new tensor
 * (~10 ns per element; only a constant operand, such as a frozen layer's kernel at inference, is
 * cached). Training gives it a new one every step, so a Dense layer's kernel gradient dy·Wᵀ repacked
 * the whole kernel each time. C = op(A)·op(B) is also (op(B)ᵀ·op(A)ᵀ)ᵀ: where that swaps a large
 * packed operand for a small one, at the price of transposing small ones, it is several times faster
 * (dy·Wᵀ for a 3840×256 kernel at batch 32: 19 → 4.4 ms). Nanoseconds per element, measured here.
 */
const PACK_NS = 10;
const TRANSPOSE_NS = 1.2;
/** Operands already packed once (a constant, e.g. inference weights): stock keeps those cached. */
const seenRight = new WeakSet<object>();

function swappedIsCheaper(m: number, k: number, n: number, transposeA: boolean, transposeB: boolean, rightSeen: boolean): boolean {
  const standard = (transposeA ? m * k : 0) * TRANSPOSE_NS + (transposeB ? k * n : 0) * TRANSPOSE_NS + (rightSeen ? 0 : k * n * PACK_NS);
  const swapped = (transposeB ? 0 : k * n) * TRANSPOSE_NS + (transposeA ? 0 : m * k) * TRANSPOSE_NS + k * m * PACK_NS + m * n * TRANSPOSE_NS;
  return swapped < 0.8 * standard;
}

/** C = (op(B)ᵀ·op(A)ᵀ)ᵀ on one matrix pair (batch 1), untransposed products only. */
function swappedProduct(backend: BackendWasm, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
  const left = transposeB ? b : transposeLastTwo(backend, b); // op(B)ᵀ
  const right = transposeA ? a : transposeLastTwo(backend, a); // op(A)ᵀ
  const productT = runStock(backend, 'BatchMatMul', { a: left, b: right }, { transposeA: false, transposeB: false });
  const out = transposeLastTwo(backend, productT);
  dispose(backend, left === b ? null : left, right === a ? null : right, productT);
  return out;
}

/**
 * C = op(A)·op(B) without packing (native gemm_f32: XNNPACK's sums, so its bits). For a right operand
 * XNNPACK has not packed before — what training hands it at every step — this skips the packing that
 * cost more than the product (a 480→256 Dense step: three products of 0.5 ms → ~0.1 ms each).
 */
function unpackedProduct(backend: BackendWasm, a: TensorInfo, b: TensorInfo, m: number, k: number, n: number, transposeA: boolean, transposeB: boolean): TensorInfo {
  const outer = a.shape.length === 3 || b.shape.length === 3 ? [1] : [];
  const out = backend.makeOutput([...outer, m, n], 'float32');
  gemm(backend, a, b, out, { m, k, n, transposeA, transposeB });
  return out;
}

export type MatMulStrategy = 'auto' | 'stock' | 'swapped' | 'unpacked';
let strategy: MatMulStrategy = 'auto';

/** Forces one way of computing plain products (all give the same bits): for bench/matmul-strategies.ts. */
export function setMatMulStrategy(s: MatMulStrategy): void {
  strategy = s;
}

export interface GemmShape {
  m: number;
  k: number;
  n: number;
  transposeA?: boolean;
  transposeB?: boolean;
  /** Each output's sum starts from bias[j] (XNNPACK's fused bias). */
  bias?: TensorInfo | null;
  /** Afterwards: 'relu' as XNNPACK's relu kernels (integer max with 0), or [lo, hi] as its minmax kernels clamp. */
  clamp?: 'relu' | [number, number] | null;
}

/** The native kernels' last four arguments: bias pointer (0: none), clamp mode (0 none, 1 [lo, hi], 2 relu), lo, hi. */
export function epilogueArgs(backend: BackendWasm, bias: TensorInfo | null, clamp: GemmShape['clamp']): [number, number, number, number] {
  const [lo, hi] = Array.isArray(clamp) ? clamp : [0, 0];
  return [bias ? ptr(backend, bias) : 0, clamp === 'relu' ? 2 : clamp ? 1 : 0, lo, hi];
}

/**
 * How many values of k gemm_f32 / conv_gemm take per block: all of them while B's packed panels fit in
 * 256 KiB (a pass over C per block is then saved), else 256 (a panel of them fits in L1).
 */
export function gemmBlockOfK(k: number, n: number): number {
  return Math.max(1, k * Math.floor(n / 8) * 8 <= 64 * 1024 ? k : Math.min(k, 256));
}

/** out (m × n) = op(a)·op(b) by native gemm_f32, with XNNPACK's sums (see training-kernels.c). */
export function gemm(backend: BackendWasm, a: TensorInfo, b: TensorInfo, out: TensorInfo, g: GemmShape): void {
  const kc = gemmBlockOfK(g.k, g.n);
  const panelFloats = kc * Math.max(8, Math.floor(g.n / 8) * 8);
  withScratch(backend, [panelFloats * 4], (panel) =>
    simdKernels(backend).gemm_f32(ptr(backend, a), ptr(backend, b), ptr(backend, out), g.m, g.k, g.n, g.transposeA ? 1 : 0, g.transposeB ? 1 : 0,
      panel, kc, ...epilogueArgs(backend, g.bias ?? null, g.clamp ?? null)));
}

/** A rank-2 tensor, or rank 3 with one matrix (what tf.matMul and Dense layers hand the kernel). */
function singleMatrix(t: TensorInfo): boolean {
  return t.shape.length === 2 || (t.shape.length === 3 && t.shape[0] === 1);
}

function untransposed(name: string) {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo => {
    const backend = args.backend as BackendWasm;
    const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    // Only the plain product: XNNPACK starts a fused product's sums from the bias, so a swapped
    // product + bias would not give the same bits.
    if (name === 'BatchMatMul' && a.dtype === 'float32' && b.dtype === 'float32' && singleMatrix(a) && singleMatrix(b)) {
      const tA = attrs.transposeA === true;
      const tB = attrs.transposeB === true;
      const r = a.shape.length;
      const m = a.shape[tA ? r - 1 : r - 2]!;
      const k = a.shape[tA ? r - 2 : r - 1]!;
      const n = b.shape[tB ? b.shape.length - 2 : b.shape.length - 1]!;
      const rightSeen = seenRight.has(b.dataId);
      if (!tB) seenRight.add(b.dataId);
      const choice = strategy !== 'auto' ? strategy : !rightSeen ? 'unpacked' : swappedIsCheaper(m, k, n, tA, tB, rightSeen) ? 'swapped' : 'stock';
      if (choice === 'unpacked') return unpackedProduct(backend, a, b, m, k, n, tA, tB);
      if (choice === 'swapped') return swappedProduct(backend, a, b, tA, tB);
    }
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
