// Small helpers shared by leukopipe's wasm kernels: calling the stock wasm kernels directly (so
// intermediates never reach the engine or the gradient tape), and viewing tensors on the wasm heap.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm/dist/backend_wasm.js';

export type { BackendWasm };
export type TensorInfo = tf.TensorInfo;
export type PadAttr = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/** The stock wasm kernels, captured before leukopipe replaces any of them. */
const stock = new Map<string, tf.KernelFunc>();

export function captureStockKernel(name: string): void {
  if (stock.has(name)) return;
  const config = tf.getKernel(name, 'wasm');
  if (config) stock.set(name, config.kernelFunc);
}

/** The stock wasm kernel function captured before replacement (benchmarks compare against it). */
export function stockKernel(name: string): tf.KernelFunc | undefined {
  return stock.get(name);
}

/** Runs a stock wasm kernel on backend-level tensors; the caller disposes the result. */
export function runStock(backend: BackendWasm, name: string, inputs: Record<string, TensorInfo>, attrs: object = {}): TensorInfo {
  const kernel = stock.get(name) ?? tf.getKernel(name, 'wasm')?.kernelFunc;
  if (!kernel) throw new Error(`wasm backend has no ${name} kernel`);
  const out = kernel({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`${name}: expected one output`);
  return out;
}

/** Float32 view of a tensor on the wasm heap; re-take it after any allocation (the heap may grow). */
export function heapF32(backend: BackendWasm, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** View of any dtype on the wasm heap. */
export function heapView(backend: BackendWasm, t: TensorInfo): Float32Array | Int32Array | Uint8Array {
  return backend.typedArrayFromHeap(t) as Float32Array | Int32Array | Uint8Array;
}

export function dispose(backend: BackendWasm, ...infos: Array<TensorInfo | null | undefined>): void {
  for (const t of infos) if (t) backend.disposeData(t.dataId);
}

/** Same TensorInfo seen with another shape (no copy), via the stock Reshape kernel. */
export function reshape(backend: BackendWasm, t: TensorInfo, shape: number[]): TensorInfo {
  return runStock(backend, 'Reshape', { x: t }, { shape });
}

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function dim(shape: readonly number[], i: number): number {
  const d = shape[i];
  if (d === undefined) throw new Error(`shape [${shape.join(',')}] has no dimension ${i}`);
  return d;
}
