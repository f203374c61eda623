// The weighted layers of the families, created with Keras' initialisers or, when the caller will
// load weights right after building, with zeros: randomising VGG16's 138 M values takes tens of
// seconds on a CPU, zeros take well under one.
import * as tf from '@tensorflow/tfjs';

export type InitialWeights = 'random' | 'zeros';

type Conv2DArgs = Parameters<typeof tf.layers.conv2d>[0];
type SeparableConv2DArgs = Parameters<typeof tf.layers.separableConv2d>[0];
type DepthwiseConv2DArgs = Parameters<typeof tf.layers.depthwiseConv2d>[0];
type DenseArgs = Parameters<typeof tf.layers.dense>[0];

export interface LayerFactory {
  conv2d(args: Conv2DArgs): tf.layers.Layer;
  separableConv2d(args: SeparableConv2DArgs): tf.layers.Layer;
  depthwiseConv2d(args: DepthwiseConv2DArgs): tf.layers.Layer;
  dense(args: DenseArgs): tf.layers.Layer;
}

export function layerFactory(initialWeights: InitialWeights = 'random'): LayerFactory {
  if (initialWeights === 'random') {
    return {
      conv2d: (args) => tf.layers.conv2d(args),
      separableConv2d: (args) => tf.layers.separableConv2d(args),
      depthwiseConv2d: (args) => tf.layers.depthwiseConv2d(args),
      dense: (args) => tf.layers.dense(args),
    };
  }
  if (initialWeights !== 'zeros') throw new Error(`initialWeights must be 'random' or 'zeros', got ${JSON.stringify(initialWeights)}`);
  return {
    conv2d: (args) => tf.layers.conv2d({ ...args, kernelInitializer: 'zeros' }),
    separableConv2d: (args) =>
      tf.layers.separableConv2d({ ...args, depthwiseInitializer: 'zeros', pointwiseInitializer: 'zeros' }),
    depthwiseConv2d: (args) => tf.layers.depthwiseConv2d({ ...args, depthwiseInitializer: 'zeros' }),
    dense: (args) => tf.layers.dense({ ...args, kernelInitializer: 'zeros' }),
  };
}
