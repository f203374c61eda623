// tfjs-layers 4.22 reads `gamma` and `beta` unconditionally when BatchNormalization runs in training
// mode, so a layer built with `scale: false` (every BN of Keras' InceptionV3) throws "Cannot read
// properties of undefined (reading 'read')" the moment it is trained. This gives such layers a
// constant stand-in (ones for gamma, zeros for beta), which is exactly what "no scale" means.
import * as tf from '@tensorflow/tfjs';

interface ConstantWeight { read(): tf.Tensor }
interface BatchNormLayer {
  gamma: ConstantWeight | null | undefined;
  beta: ConstantWeight | null | undefined;
  movingMean: { shape: number[] };
  unitGamma?: ConstantWeight;
  zeroBeta?: ConstantWeight;
  call(inputs: unknown, kwargs: Record<string, unknown>): unknown;
}

let patched = false;

export function allowTrainingBatchNormWithoutScale(): void {
  if (patched) return;
  patched = true;
  const proto = Object.getPrototypeOf(tf.layers.batchNormalization({})) as BatchNormLayer;
  const original = proto.call;
  proto.call = function (this: BatchNormLayer, inputs, kwargs) {
    if (kwargs?.['training'] !== true || (this.gamma && this.beta)) return original.call(this, inputs, kwargs);
    // Kept for the layer's lifetime: the gradient tape refers to them until the backward pass.
    const ones = (this.unitGamma ??= constant(tf.keep(tf.ones(this.movingMean.shape))));
    const zeros = (this.zeroBeta ??= constant(tf.keep(tf.zeros(this.movingMean.shape))));
    const { gamma, beta } = this;
    this.gamma = gamma ?? ones;
    this.beta = beta ?? zeros;
    try {
      return original.call(this, inputs, kwargs);
    } finally {
      this.gamma = gamma;
      this.beta = beta;
    }
  };
}

function constant(value: tf.Tensor): ConstantWeight {
  return { read: () => value };
}
