// DenseNet-121/169/201 (Huang et al. 2016) as Keras Applications builds them: four dense blocks
// (BN-ReLU-1x1 conv-BN-ReLU-3x3 conv, growth rate 32, each output concatenated onto its input)
// joined by transition layers that halve channels and resolution. Convolutions without bias,
// batch norm epsilon 1.001e-5. Keras leaves the two stem paddings unnamed.
import * as tf from '@tensorflow/tfjs';
import { checkInputShape, resolveBuildOptions, type ArchSpec, type BuildOptions, type InputShape } from './arch-spec.js';
import { applyAvgPoolClassifier } from './classifier-head.js';
import { KerasAutoNames } from './keras-names.js';
import { layerFactory, type LayerFactory } from './layer-factory.js';
import { kerasApplicationsWeights } from './keras-weight-urls.js';

const BN_EPSILON = 1.001e-5;
const GROWTH_RATE = 32;
const MIN_INPUT_SIZE = 32;

type Sym = tf.SymbolicTensor;

function bnRelu(x: Sym, name: string): Sym {
  const y = tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, name: `${name}_bn` }).apply(x) as Sym;
  return tf.layers.activation({ activation: 'relu', name: `${name}_relu` }).apply(y) as Sym;
}

function conv(L: LayerFactory, x: Sym, filters: number, kernelSize: number, name: string): Sym {
  return L.conv2d({ filters, kernelSize, padding: 'same', useBias: false, name }).apply(x) as Sym;
}

/** One layer of a dense block: bottleneck then 3x3 conv, its `GROWTH_RATE` maps appended to the input. */
function denseLayer(L: LayerFactory, x: Sym, name: string): Sym {
  let y = bnRelu(x, `${name}_0`);
  y = conv(L, y, 4 * GROWTH_RATE, 1, `${name}_1_conv`);
  y = bnRelu(y, `${name}_1`);
  y = conv(L, y, GROWTH_RATE, 3, `${name}_2_conv`);
  return tf.layers.concatenate({ axis: -1, name: `${name}_concat` }).apply([x, y]) as Sym;
}

function denseBlock(L: LayerFactory, x: Sym, layers: number, name: string): Sym {
  let y = x;
  for (let i = 1; i <= layers; i++) y = denseLayer(L, y, `${name}_block${i}`);
  return y;
}

/** Halves the channels (compression 0.5) and the resolution. */
function transition(L: LayerFactory, x: Sym, name: string): Sym {
  const channels = x.shape[x.shape.length - 1]!;
  let y = bnRelu(x, name);
  y = conv(L, y, Math.trunc(channels * 0.5), 1, `${name}_conv`);
  return tf.layers.averagePooling2d({ poolSize: 2, strides: 2, name: `${name}_pool` }).apply(y) as Sym;
}

export function buildDenseNet(
  modelName: string,
  blocks: readonly [number, number, number, number],
  inputShape: InputShape,
  options?: BuildOptions,
): tf.LayersModel {
  const opts = resolveBuildOptions(options);
  checkInputShape(modelName, inputShape, MIN_INPUT_SIZE);
  const names = new KerasAutoNames();
  const L = layerFactory(opts.initialWeights);
  const input = tf.input({ shape: inputShape, name: 'input_1' });
  let x = tf.layers.zeroPadding2d({ padding: [[3, 3], [3, 3]], name: names.next('zero_padding2d') }).apply(input) as Sym;
  x = L.conv2d({ filters: 64, kernelSize: 7, strides: 2, useBias: false, name: 'conv1/conv' }).apply(x) as Sym;
  x = tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, name: 'conv1/bn' }).apply(x) as Sym;
  x = tf.layers.activation({ activation: 'relu', name: 'conv1/relu' }).apply(x) as Sym;
  x = tf.layers.zeroPadding2d({ padding: [[1, 1], [1, 1]], name: names.next('zero_padding2d') }).apply(x) as Sym;
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1' }).apply(x) as Sym;
  x = denseBlock(L, x, blocks[0], 'conv2');
  x = transition(L, x, 'pool2');
  x = denseBlock(L, x, blocks[1], 'conv3');
  x = transition(L, x, 'pool3');
  x = denseBlock(L, x, blocks[2], 'conv4');
  x = transition(L, x, 'pool4');
  x = denseBlock(L, x, blocks[3], 'conv5');
  x = tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, name: 'bn' }).apply(x) as Sym;
  x = tf.layers.activation({ activation: 'relu', name: 'relu' }).apply(x) as Sym;
  return tf.model({ inputs: input, outputs: applyAvgPoolClassifier(x, opts), name: modelName.toLowerCase() });
}

function denseNetSpec(
  depth: 121 | 169 | 201,
  blocks: readonly [number, number, number, number],
  md5: { top: string; notop: string },
): ArchSpec {
  const kerasName = `DenseNet${depth}`;
  return {
    name: `densenet${depth}`,
    kerasName,
    family: 'densenet',
    defaultInputSize: 224,
    minInputSize: MIN_INPUT_SIZE,
    preprocessing: 'torch',
    featureLayer: 'relu',
    build: (inputShape, options) => buildDenseNet(kerasName, blocks, inputShape, options),
    imagenet: kerasApplicationsWeights('densenet', `densenet${depth}`, md5),
  };
}

export const architectures: ArchSpec[] = [
  denseNetSpec(121, [6, 12, 24, 16], { top: '9d60b8095a5708f2dcce2bca79d332c7', notop: '30ee3e1110167f948a6b9946edeeb738' }),
  denseNetSpec(169, [6, 12, 32, 32], { top: 'd699b8f76981ab1b30698df4c175e90b', notop: 'b8c4d4c20dd625c148057b9ff1c1176b' }),
  denseNetSpec(201, [6, 12, 48, 32], { top: '1ceb130c1ea1b78c3bf6114dbdfd8807', notop: 'c13680b51ded0fb44dff2d8f86ac8bb1' }),
];
