// Cast for wasm without a copy when the dtype does not change (tf.moments and the Relu / Square
// gradients cast float32 tensors to float32 on every batch-norm layer of every step; stock wasm copies
// each). The output shares the input's buffer, as Identity does (kernels/identity.ts); other casts
// go to the stock kernel.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, runStock } from '../wasm-kernel-utils.js';
import { shareBuffer } from './identity.js';

function cast(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as unknown as { dtype: tf.DataType };
  if (dtype !== x.dtype || x.dtype === 'string') return runStock(backend, 'Cast', { x }, args.attrs ?? {});
  return shareBuffer(backend, x);
}

export const castConfig: tf.KernelConfig = {
  kernelName: 'Cast',
  backendName: 'wasm',
  kernelFunc: cast as unknown as tf.KernelFunc,
};
