// Identity for wasm without a copy: tensors are immutable, so the output shares the input's buffer
// (reference-counted, as the cpu backend does). Stock wasm copies; gradients of additions call it
// for every activation-sized tensor.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm, TensorInfo } from '../wasm-kernel-utils.js';

/** A new tensor over x's buffer (one more reference to it): what a copy of an immutable tensor can be. */
export function shareBuffer(backend: BackendWasm, x: TensorInfo): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

function identity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfo {
  return shareBuffer(args.backend as BackendWasm, (args.inputs as { x: TensorInfo }).x);
}

export const identityConfig: tf.KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: identity as unknown as tf.KernelFunc,
};
