// leukopipe's own wasm SIMD kernels (stages/tf/native/training-kernels.c), instantiated on the
// memory of tfjs-backend-wasm itself: they read and write tensors where tfjs keeps them, by heap
// offset, with no copies. The module has no data, globals or stack of its own (native/build.sh
// checks), so sharing that memory cannot disturb tfjs.
import type { BackendWasm, TensorInfo } from './wasm-kernel-utils.js';
import { TRAINING_KERNELS_WASM_BASE64 } from './native/training-kernels-wasm.js';

type Ptr = number;

export interface SimdKernels {
  sum_rows(x: Ptr, rows: number, cols: number, out: Ptr, part: Ptr, acc: Ptr, divisor: number): void;
  binary_broadcast(op: number, big: Ptr, vec: Ptr, out: Ptr, n: number, period: number, vecFirst: number): void;
  compare(op: number, a: Ptr, b: Ptr, out: Ptr, n: number, bScalar: number): void;
  logical_and(a: Ptr, b: Ptr, out: Ptr, n: number): void;
  select32(cond: Ptr, t: Ptr, e: Ptr, out: Ptr, n: number): void;
  depthwise_filter_grad(x: Ptr, dy: Ptr, out64: Ptr, part: Ptr, batch: number, h: number, w: number, c: number,
    oh: number, ow: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, padTop: number, padLeft: number): void;
  conv_filter_grad_block_rows(ow: number): number;
  conv_filter_grad(x: Ptr, dy: Ptr, out64: Ptr, part: Ptr, rowTable: Ptr, batch: number, h: number, w: number, ci: number,
    oh: number, ow: number, co: number, kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number): void;
  max_pool_grad_tiled(x: Ptr, dy: Ptr, dx: Ptr, batch: number, h: number, w: number, c: number,
    oh: number, ow: number, fh: number, fw: number, padTop: number, padLeft: number): void;
  narrow_f64(src: Ptr, dst: Ptr, n: number): void;
  adam_update(w: Ptr, g: Ptr, m: Ptr, v: Ptr, outM: Ptr, outV: Ptr, outW: Ptr, n: number, beta1: number, oneMinusBeta1: number,
    beta2: number, oneMinusBeta2: number, oneMinusAccBeta1: number, oneMinusAccBeta2: number, epsilon: number, negativeLearningRate: number): void;
  gemm_f32(a: Ptr, b: Ptr, c: Ptr, m: number, k: number, n: number, transA: number, transB: number, panels: Ptr, kcMax: number,
    bias: Ptr, clamp: number, lo: number, hi: number): void;
  conv_gemm(x: Ptr, filter: Ptr, out: Ptr, batch: number, h: number, w: number, ci: number, oh: number, ow: number, co: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number, panels: Ptr, ablock: Ptr, kcMax: number,
    bias: Ptr, clamp: number, lo: number, hi: number): void;
  transpose_matrices(src: Ptr, dst: Ptr, batch: number, rows: number, cols: number): void;
  relu_grad(dy: Ptr, x: Ptr, out: Ptr, n: number): void;
  square_grad(dy: Ptr, x: Ptr, out: Ptr, n: number): void;
  clip_grad(dy: Ptr, x: Ptr, out: Ptr, n: number, lo: number, hi: number): void;
  batch_norm_grad(x: Ptr, dy: Ptr, mean: Ptr, r: Ptr, negR: Ptr, m: Ptr, s: Ptr, rows: number, cols: number,
    dx: Ptr, dMean: Ptr, dVar: Ptr, dScale: Ptr, dOffset: Ptr, part: Ptr, acc: Ptr): void;
  sum_sq_dev_rows(x: Ptr, mean: Ptr, rows: number, cols: number, out: Ptr, part: Ptr, acc: Ptr, divisor: number): void;
  moments_grad(x: Ptr, mean: Ptr, dMean: Ptr, dVar: Ptr, n: number, rows: number, cols: number, dx: Ptr, dxOut: Ptr,
    part: Ptr, acc: Ptr, dvn: Ptr, dmn: Ptr): void;
  head_standardize(x: Ptr, rows: Ptr, n: number, d: number, gamma: Ptr, beta: Ptr, eps: number, mean: Ptr, variance: Ptr, scale: Ptr,
    training: number, xn: Ptr, xhat: Ptr): void;
  head_dropout(h: Ptr, u: Ptr, out: Ptr, count: number, keep: number, multiplier: number): void;
  head_dropout_grad(dy: Ptr, out: Ptr, dx: Ptr, count: number, multiplier: number): void;
  head_kernel_grads(g: Ptr, w: Ptr, gamma: Ptr, beta: Ptr, dbias: Ptr, d: number, h: number, dw: Ptr, dgamma: Ptr, dbeta: Ptr): void;
}

export const BINARY_OP = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 } as const;
export const COMPARE_OP = { GreaterEqual: 0, LessEqual: 1, Greater: 2, Less: 3 } as const;

/** The part of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Memory: abstract new (...args: never[]) => object;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WasmJs = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface EmscriptenModule {
  asm: { memory: unknown };
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

const instances = new WeakMap<object, SimdKernels>();
let compiled: object | null = null;

function wasmModuleOf(backend: BackendWasm): EmscriptenModule {
  return (backend as unknown as { wasm: EmscriptenModule }).wasm;
}

/** The kernels bound to this backend's memory (instantiated once per backend). */
export function simdKernels(backend: BackendWasm): SimdKernels {
  const wasm = wasmModuleOf(backend);
  let kernels = instances.get(wasm);
  if (!kernels) {
    compiled ??= new WasmJs.Module(Buffer.from(TRAINING_KERNELS_WASM_BASE64, 'base64'));
    const memory = wasm.asm?.memory;
    if (!(memory instanceof WasmJs.Memory)) throw new Error('tfjs-backend-wasm does not expose its memory (Module.asm.memory); leukopipe SIMD kernels cannot run');
    kernels = new WasmJs.Instance(compiled, { env: { memory } }).exports as unknown as SimdKernels;
    instances.set(wasm, kernels);
  }
  return kernels;
}

/** Heap offset of a tensor's data. */
export function ptr(backend: BackendWasm, t: TensorInfo): Ptr {
  return backend.dataIdMap.get(t.dataId)!.memoryOffset as number;
}

/** Scratch memory on the tfjs heap for the duration of `run`. */
export function withScratch<T>(backend: BackendWasm, bytes: number[], run: (...ptrs: Ptr[]) => T): T {
  const wasm = wasmModuleOf(backend);
  // 16-byte aligned (malloc guarantees 8; SIMD loads do not need more, but f64 rows do need 8).
  const ptrs = bytes.map((b) => wasm._malloc(Math.max(16, b)) >>> 0);
  try {
    if (ptrs.some((p) => p === 0)) throw new Error('wasm heap exhausted (scratch for a leukopipe kernel)');
    return run(...ptrs);
  } finally {
    for (const p of ptrs) if (p) wasm._free(p);
  }
}

/**
 * Float32 buffers of the given lengths on the tfjs heap, kept across many kernel calls (a whole training
 * run) and freed by `free`. `view(i)` is a Float32Array over buffer i, taken again after the heap grew.
 */
export interface HeapBuffers {
  readonly ptrs: readonly Ptr[];
  view(i: number): Float32Array;
  free(): void;
}

export function heapBuffers(backend: BackendWasm, lengths: readonly number[]): HeapBuffers {
  const wasm = wasmModuleOf(backend);
  const memory = wasm.asm.memory as { buffer: ArrayBuffer };
  const ptrs = lengths.map((n) => wasm._malloc(Math.max(16, n * 4)) >>> 0);
  const free = () => ptrs.forEach((p) => p && wasm._free(p));
  if (ptrs.some((p) => p === 0)) {
    free();
    throw new Error('wasm heap exhausted (buffers for a leukopipe kernel)');
  }
  let buffer: ArrayBuffer | null = null;
  let views: Float32Array[] = [];
  return {
    ptrs,
    view(i) {
      if (memory.buffer !== buffer) {
        buffer = memory.buffer;
        views = ptrs.map((p, k) => new Float32Array(buffer!, p, lengths[k]!));
      }
      return views[i]!;
    },
    free,
  };
}
