// Tile for wasm: the stock kernel computes an index for every output element. This one copies
// each input row once and then repeats whole blocks with doubling block copies (copyWithin), so
// broadcasting a per-channel vector over a feature map costs a few large memmoves.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, heapView, size } from '../wasm-kernel-utils.js';

type Heap = Float32Array | Int32Array | Uint8Array;

function tile(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: TensorInfo };
  const { reps } = args.attrs as unknown as tf.TileAttrs;
  if (x.dtype === 'string') throw new Error('wasm Tile: string tensors are not supported');
  if (x.shape.length === 0) {
    const scalar = backend.makeOutput([], x.dtype);
    heapView(backend, scalar).set(heapView(backend, x));
    return scalar;
  }
  const inShape = x.shape;
  const rank = inShape.length;
  const outShape = inShape.map((d, i) => d * (reps[i] ?? 1));
  const out = backend.makeOutput(outShape, x.dtype);
  if (size(outShape) === 0) return out;
  const src = heapView(backend, x);
  const dst = heapView(backend, out);
  const inStrides = stridesOf(inShape);
  const outStrides = stridesOf(outShape);
  fill(0, 0, 0);
  return out;

  /** Writes the block of output axis `axis` (all input indices, then its repeats) at `dstOff`. */
  function fill(axis: number, srcOff: number, dstOff: number): void {
    const n = inShape[axis]!;
    if (axis === rank - 1) copyRow(src, srcOff, dst, dstOff, n);
    else for (let i = 0; i < n; i++) fill(axis + 1, srcOff + i * inStrides[axis]!, dstOff + i * outStrides[axis]!);
    repeat(dst, dstOff, n * outStrides[axis]!, reps[axis] ?? 1);
  }
}

function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  return strides;
}

function copyRow(src: Heap, s: number, dst: Heap, d: number, n: number): void {
  if (n > 32) dst.set(src.subarray(s, s + n), d);
  else for (let i = 0; i < n; i++) dst[d + i] = src[s + i]!;
}

/** dst[start .. start+block) repeated `times` times in a row, by doubling copies. */
function repeat(dst: Heap, start: number, block: number, times: number): void {
  const total = block * times;
  for (let filled = block; filled < total; filled *= 2) {
    dst.copyWithin(start + filled, start, start + Math.min(filled, total - filled));
  }
}

export const tileConfig: tf.KernelConfig = {
  kernelName: 'Tile',
  backendName: 'wasm',
  kernelFunc: tile as unknown as tf.KernelFunc,
};
