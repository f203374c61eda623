// Xception (Chollet 2016) as Keras Applications builds it: entry flow (two plain convs, three
// strided separable-conv blocks with 1x1 projection shortcuts), middle flow (eight residual blocks
// of three 728-wide separable convs), exit flow. Convolutions without bias, BN epsilon 1e-3.
// Keras leaves the shortcut convs, their batch norms and the additions unnamed.
import * as tf from '@tensorflow/tfjs';
import { checkInputShape, resolveBuildOptions, type ArchSpec, type BuildOptions, type InputShape } from './arch-spec.js';
import { applyAvgPoolClassifier } from './classifier-head.js';
import { KerasAutoNames } from './keras-names.js';
import { layerFactory, type LayerFactory } from './layer-factory.js';
import { kerasApplicationsWeights } from './keras-weight-urls.js';

const BN_EPSILON = 1e-3;
const MIN_INPUT_SIZE = 71;

type Sym = tf.SymbolicTensor;

function batchNorm(x: Sym, name: string): Sym {
  return tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, name }).apply(x) as Sym;
}

function relu(x: Sym, name: string): Sym {
  return tf.layers.activation({ activation: 'relu', name }).apply(x) as Sym;
}

function sepConv(L: LayerFactory, x: Sym, filters: number, name: string): Sym {
  return L.separableConv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, name }).apply(x) as Sym;
}

/** Strided 1x1 projection of the shortcut (unnamed in Keras). */
function projection(L: LayerFactory, x: Sym, filters: number, names: KerasAutoNames): Sym {
  const y = L
    .conv2d({ filters, kernelSize: 1, strides: 2, padding: 'same', useBias: false, name: names.next('conv2d') })
    .apply(x) as Sym;
  return batchNorm(y, names.next('batch_normalization'));
}

function add(a: Sym, b: Sym, names: KerasAutoNames): Sym {
  return tf.layers.add({ name: names.next('add') }).apply([a, b]) as Sym;
}

/**
 * Entry/exit block: [ReLU] sepconv → BN → ReLU → sepconv → BN → 3x3/2 max pool, plus the projected shortcut.
 * `leadingRelu` is false for block 2, which follows an activation already.
 */
function downsamplingBlock(L: LayerFactory, x: Sym, block: number, filters: [number, number], leadingRelu: boolean, names: KerasAutoNames): Sym {
  const shortcut = projection(L, x, filters[1], names);
  const prefix = `block${block}`;
  let y = leadingRelu ? relu(x, `${prefix}_sepconv1_act`) : x;
  y = batchNorm(sepConv(L, y, filters[0], `${prefix}_sepconv1`), `${prefix}_sepconv1_bn`);
  y = relu(y, `${prefix}_sepconv2_act`);
  y = batchNorm(sepConv(L, y, filters[1], `${prefix}_sepconv2`), `${prefix}_sepconv2_bn`);
  y = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: `${prefix}_pool` }).apply(y) as Sym;
  return add(y, shortcut, names);
}

function middleBlock(L: LayerFactory, x: Sym, block: number, names: KerasAutoNames): Sym {
  let y = x;
  for (let i = 1; i <= 3; i++) {
    const prefix = `block${block}_sepconv${i}`;
    y = batchNorm(sepConv(L, relu(y, `${prefix}_act`), 728, prefix), `${prefix}_bn`);
  }
  return add(y, x, names);
}

export function buildXception(inputShape: InputShape, options?: BuildOptions): tf.LayersModel {
  const opts = resolveBuildOptions(options);
  checkInputShape('Xception', inputShape, MIN_INPUT_SIZE);
  const names = new KerasAutoNames();
  const L = layerFactory(opts.initialWeights);
  const input = tf.input({ shape: inputShape, name: 'input_1' });
  let x = L.conv2d({ filters: 32, kernelSize: 3, strides: 2, useBias: false, name: 'block1_conv1' }).apply(input) as Sym;
  x = relu(batchNorm(x, 'block1_conv1_bn'), 'block1_conv1_act');
  x = L.conv2d({ filters: 64, kernelSize: 3, useBias: false, name: 'block1_conv2' }).apply(x) as Sym;
  x = relu(batchNorm(x, 'block1_conv2_bn'), 'block1_conv2_act');

  x = downsamplingBlock(L, x, 2, [128, 128], false, names);
  x = downsamplingBlock(L, x, 3, [256, 256], true, names);
  x = downsamplingBlock(L, x, 4, [728, 728], true, names);
  for (let block = 5; block <= 12; block++) x = middleBlock(L, x, block, names);
  x = downsamplingBlock(L, x, 13, [728, 1024], true, names);

  x = relu(batchNorm(sepConv(L, x, 1536, 'block14_sepconv1'), 'block14_sepconv1_bn'), 'block14_sepconv1_act');
  x = relu(batchNorm(sepConv(L, x, 2048, 'block14_sepconv2'), 'block14_sepconv2_bn'), 'block14_sepconv2_act');
  return tf.model({ inputs: input, outputs: applyAvgPoolClassifier(x, opts), name: 'xception' });
}

export const architectures: ArchSpec[] = [
  {
    name: 'xception',
    kerasName: 'Xception',
    family: 'xception',
    defaultInputSize: 299,
    minInputSize: MIN_INPUT_SIZE,
    preprocessing: 'tf',
    featureLayer: 'block14_sepconv2_act',
    build: buildXception,
    imagenet: kerasApplicationsWeights('xception', 'xception', {
      top: '0a58e3b7378bc2990ea3b43d5981f1f6',
      notop: 'b0042744bf5b25fce3cb969f33bebb97',
    }),
  },
];
