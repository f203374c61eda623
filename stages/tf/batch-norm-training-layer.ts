// tfjs-layers' BatchNormalization in training mode through two leukopipe kernels
// (kernels/batch-norm-training.ts) instead of tf.moments + batchNorm: eleven activation-sized passes
// of a step (Mean, Sub, Square, Mean forward; Tile, SquareGrad, Sum, Tile, two Adds backward) become
// four, with the same bits. Inference, and every case the kernels do not cover, runs tfjs's own call.
//
// The same bits need one more condition: the layer's input must have no other consumer. tfjs adds the
// gradients a tensor receives one at a time, in tape order; the fused gradient hands over the three
// batch-norm parts already added, which regroups the sum when a fourth part (a DenseNet concatenation
// that also feeds the next block) arrives first. Such layers keep tfjs's path.
import * as tf from '@tensorflow/tfjs';
import { batchNormGradients, fusedGradientsActive } from './fused-gradients.js';
import { BATCH_NORM_TRAINING, MOMENTS_GRAD } from './kernels/batch-norm-training.js';

interface GraphNode { outboundLayer: object; inboundLayers: object[] }
interface LayerVariable { read(): tf.Variable; write(value: tf.Tensor): void }
interface BatchNormalizationLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma?: LayerVariable | null;
  beta?: LayerVariable | null;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
  inboundNodes: GraphNode[];
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

/** Every layer that feeds this one sends its output here only (in every model that holds them). */
function soleConsumer(layer: BatchNormalizationLayer): boolean {
  if (layer.inboundNodes.length === 0) return false;
  return layer.inboundNodes.every((node) => node.inboundLayers.length === 1
    && (node.inboundLayers[0] as { outboundNodes: GraphNode[] }).outboundNodes.every((out) => out.outboundLayer === layer));
}

/** tfjs-layers' moving-average update, the same ops. */
function movingAverage(variable: LayerVariable, value: tf.Tensor, momentum: number): void {
  tf.tidy(() => {
    const decay = 1 - momentum;
    const origValue = variable.read();
    variable.write(tf.sub(origValue, tf.mul(tf.sub(origValue, value), decay)));
  });
}

type CallFn = BatchNormalizationLayer['call'];

function fusedCall(original: CallFn): CallFn {
  return function (this: BatchNormalizationLayer, inputs, kwargs) {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const training = kwargs?.['training'] === true;
    const rank = input?.rank ?? 0;
    const covered = training && fusedGradientsActive() && input !== undefined && input.dtype === 'float32' && rank >= 2
      && (this.axis === -1 || this.axis === rank - 1) && this.gamma != null && this.beta != null && input.size > 0
      && (Array.isArray(inputs) ? inputs.length === 1 : true) && soleConsumer(this);
    if (!covered) return original.call(this, inputs, kwargs);
    return tf.tidy(() => {
      const [normed, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAINING,
        { x: input, scale: this.gamma!.read(), offset: this.beta!.read() }, { varianceEpsilon: this.epsilon }) as tf.Tensor[];
      movingAverage(this.movingMean, mean!, this.momentum);
      movingAverage(this.movingVariance, variance!, this.momentum);
      return normed!;
    });
  };
}

/**
 * The gradient of the fused kernel: FusedBatchNorm's five (batch_norm_grad), then what the moments add to
 * x's. The mean and variance outputs only feed the moving averages, so no gradient reaches them.
 */
const batchNormTrainingGradient: tf.GradConfig = {
  kernelName: BATCH_NORM_TRAINING,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [x, scale, mean, variance] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const [dx, dMean, dVar, dScale, dOffset] = batchNormGradients(x, dy, mean, variance, scale, varianceEpsilon);
    return {
      x: () => tf.engine().runKernel(MOMENTS_GRAD, { x, mean, dx, dMean, dVar }) as tf.Tensor,
      scale: () => dScale,
      offset: () => dOffset,
    };
  },
};

let installed = false;

/** Idempotent. Replaces BatchNormalization's call for every backend; it defers to tfjs's own off wasm. */
export function installBatchNormTraining(): void {
  if (installed) return;
  const proto = Object.getPrototypeOf(tf.layers.batchNormalization({})) as BatchNormalizationLayer;
  proto.call = fusedCall(proto.call);
  tf.registerGradient(batchNormTrainingGradient);
  installed = true;
}
