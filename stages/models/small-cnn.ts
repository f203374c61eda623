// A small CNN trained from scratch: the baseline that tells whether ImageNet transfer helps at all.
// Four conv→BN→ReLU→max-pool blocks (32, 64, 128, 256 filters) and a pooled linear classifier;
// about 0.4 M parameters, cheap enough to train on a CPU at 128 px.
import * as tf from '@tensorflow/tfjs';
import { checkInputShape, resolveBuildOptions, type ArchSpec, type BuildOptions, type InputShape } from './arch-spec.js';
import { layerFactory } from './layer-factory.js';
import { applyPooling } from './classifier-head.js';

const FILTERS = [32, 64, 128, 256] as const;
const MIN_INPUT_SIZE = 32;
const BN_EPSILON = 1e-3;

export interface SmallCnnOptions extends BuildOptions {
  /** Dropout before the classifier. Default 0.3. */
  dropout?: number;
}

export function buildSmallCnn(inputShape: InputShape, options: SmallCnnOptions = {}): tf.LayersModel {
  const opts = resolveBuildOptions(options);
  checkInputShape('SmallCNN', inputShape, MIN_INPUT_SIZE);
  const L = layerFactory(opts.initialWeights);
  const input = tf.input({ shape: inputShape, name: 'input_1' });
  let x: tf.SymbolicTensor = input;
  FILTERS.forEach((filters, i) => {
    const block = `block${i + 1}`;
    x = L
      .conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, name: `${block}_conv` })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, name: `${block}_bn` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.activation({ activation: 'relu', name: `${block}_relu` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `${block}_pool` }).apply(x) as tf.SymbolicTensor;
  });
  if (opts.includeTop) {
    x = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dropout({ rate: options.dropout ?? 0.3, name: 'dropout' }).apply(x) as tf.SymbolicTensor;
    x = L
      .dense({ units: opts.classes, activation: opts.classifierActivation, name: 'predictions' })
      .apply(x) as tf.SymbolicTensor;
  } else {
    x = applyPooling(x, opts.pooling);
  }
  return tf.model({ inputs: input, outputs: x, name: 'small_cnn' });
}

export const architectures: ArchSpec[] = [
  {
    name: 'small_cnn',
    kerasName: 'SmallCNN',
    family: 'small-cnn',
    defaultInputSize: 128,
    minInputSize: MIN_INPUT_SIZE,
    preprocessing: 'tf',
    featureLayer: 'block4_pool',
    build: buildSmallCnn,
  },
];
