// UnsortedSegmentSum for wasm (missing in stock; it is the gradient of gather): out[id] += x[i]
// for every row i of x whose segment id is in [0, numSegments).
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, heapView, size } from '../wasm-kernel-utils.js';

function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`wasm UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
  const rows = size(segmentIds.shape);
  const rowShape = x.shape.slice(segmentIds.shape.length);
  const rowSize = size(rowShape);
  const out = backend.makeOutput([numSegments, ...rowShape], x.dtype);
  const xv = heapView(backend, x);
  const ids = heapView(backend, segmentIds);
  const ov = heapView(backend, out);
  const acc = new Float64Array(numSegments * rowSize);
  for (let i = 0; i < rows; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= numSegments) continue;
    const s = i * rowSize;
    const d = id * rowSize;
    for (let j = 0; j < rowSize; j++) acc[d + j]! += xv[s + j]!;
  }
  ov.set(acc);
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};
