// The end of a Keras Applications model: either the ImageNet-style classifier (`include_top`) or
// an optional global pooling of the base's feature map.
import * as tf from '@tensorflow/tfjs';
import { layerFactory } from './layer-factory.js';
import type { ResolvedBuildOptions } from './arch-spec.js';

/** Global pooling (`avg_pool` / `max_pool` as Keras' ResNet names them) when `pooling` is set. */
export function applyPooling(x: tf.SymbolicTensor, pooling: 'avg' | 'max' | null): tf.SymbolicTensor {
  if (pooling === 'avg') return tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as tf.SymbolicTensor;
  if (pooling === 'max') return tf.layers.globalMaxPooling2d({ name: 'max_pool' }).apply(x) as tf.SymbolicTensor;
  return x;
}

/** `avg_pool` → Dense `predictions`, the head of ResNet, InceptionV3, Xception and DenseNet. */
export function applyAvgPoolClassifier(x: tf.SymbolicTensor, options: ResolvedBuildOptions): tf.SymbolicTensor {
  if (!options.includeTop) return applyPooling(x, options.pooling);
  const pooled = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as tf.SymbolicTensor;
  return layerFactory(options.initialWeights)
    .dense({ units: options.classes, activation: options.classifierActivation, name: 'predictions' })
    .apply(pooled) as tf.SymbolicTensor;
}
