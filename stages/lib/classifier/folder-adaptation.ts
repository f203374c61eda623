// AdaBN for a whole model on one folder of images from one lab (test-time adaptation in `pipe predict`):
// every BatchNormalization whose input is a feature vector — a head's feature standardisation — takes
// the folder's mean and variance instead of the training labs'. That is the adaptation the
// leave-one-lab-out study measured on feature heads (cross-lab `adapt: adabn`). Convolutional
// BatchNormalization layers keep their statistics: re-estimating those was not measured.
import * as tf from '@tensorflow/tfjs';
import { batchNormLayers, inputInModel } from './batch-norm-recalibration.js';
import { imagesToTensor, type Preprocessing } from './preprocessing.js';
import { modelInput } from './cell-size.js';

/** The BatchNormalization layers of `model` that standardise feature vectors (rank-2 input). */
export function featureStandardizations(model: tf.LayersModel): tf.layers.Layer[] {
  return batchNormLayers(model).filter((l) => inputInModel(model, l).shape.length === 2);
}

/**
 * Sets the moving mean and variance of each feature standardisation of `model` to the population mean
 * and variance of its input over `images` (RGB at the model's input size). Returns the layers changed.
 */
export async function adaptFeatureStandardizations(
  model: tf.LayersModel,
  images: readonly Uint8Array[],
  options: { size: number; preprocessing: Preprocessing; batchSize?: number; cellSizes?: readonly number[] },
): Promise<string[]> {
  const layers = featureStandardizations(model);
  if (layers.length === 0 || images.length < 2) return [];
  const probe = tf.model({ inputs: model.inputs, outputs: layers.map((l) => inputInModel(model, l)), name: `${model.name}_adabn_probe` });
  const sums = layers.map((l) => {
    const d = inputInModel(model, l).shape[1] as number;
    return { sum: new Float64Array(d), squares: new Float64Array(d) };
  });
  const batchSize = options.batchSize ?? 32;
  for (let start = 0; start < images.length; start += batchSize) {
    const x = imagesToTensor(images.slice(start, start + batchSize), options.size, options.preprocessing);
    const input = modelInput(probe, x, options.cellSizes?.slice(start, start + batchSize));
    const out = probe.predict(input) as tf.Tensor | tf.Tensor[];
    const outs = Array.isArray(out) ? out : [out];
    for (let k = 0; k < outs.length; k++) {
      const v = await outs[k]!.data();
      const { sum, squares } = sums[k]!;
      const d = sum.length;
      for (let i = 0; i < v.length; i++) {
        sum[i % d]! += v[i]!;
        squares[i % d]! += v[i]! * v[i]!;
      }
    }
    tf.dispose([x, input, ...outs]);
  }
  const n = images.length;
  layers.forEach((layer, k) => {
    const { sum, squares } = sums[k]!;
    const mean = Float32Array.from(sum, (s) => s / n);
    const variance = Float32Array.from(squares, (s, i) => Math.max(0, s / n - (sum[i]! / n) ** 2));
    // Keras order: [gamma, beta, moving_mean, moving_variance] (gamma/beta may be absent).
    const weights = layer.getWeights();
    const created = [tf.tensor1d(mean), tf.tensor1d(variance)];
    layer.setWeights([...weights.slice(0, weights.length - 2), ...created]);
    tf.dispose(created);
  });
  return layers.map((l) => l.name);
}
