// ResNet50 (He et al. 2015) as Keras Applications' `resnet` module builds it: bottleneck residual
// blocks (1x1 → 3x3 → 1x1, 4x expansion) in four stacks of 3, 4, 6 and 3; convolutions with bias,
// batch norm epsilon 1.001e-5, projection shortcut on each stack's first block.
import * as tf from '@tensorflow/tfjs';
import { checkInputShape, resolveBuildOptions, type ArchSpec, type BuildOptions, type InputShape } from './arch-spec.js';
import { applyAvgPoolClassifier } from './classifier-head.js';
import { layerFactory, type LayerFactory } from './layer-factory.js';
import { kerasApplicationsWeights } from './keras-weight-urls.js';

const BN_EPSILON = 1.001e-5;
const MIN_INPUT_SIZE = 32;

type Sym = tf.SymbolicTensor;

function conv(L: LayerFactory, x: Sym, filters: number, kernelSize: number, strides: number, name: string, padding: 'same' | 'valid' = 'valid'): Sym {
  return L.conv2d({ filters, kernelSize, strides, padding, useBias: true, name }).apply(x) as Sym;
}

function batchNorm(x: Sym, name: string): Sym {
  return tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, name }).apply(x) as Sym;
}

function relu(x: Sym, name: string): Sym {
  return tf.layers.activation({ activation: 'relu', name }).apply(x) as Sym;
}

/** Bottleneck block; `projection` gives the shortcut its own 1x1 conv (Keras `conv_shortcut`). */
function bottleneck(L: LayerFactory, x: Sym, filters: number, stride: number, projection: boolean, name: string): Sym {
  const shortcut = projection ? batchNorm(conv(L, x, 4 * filters, 1, stride, `${name}_0_conv`), `${name}_0_bn`) : x;
  let y = relu(batchNorm(conv(L, x, filters, 1, stride, `${name}_1_conv`), `${name}_1_bn`), `${name}_1_relu`);
  y = relu(batchNorm(conv(L, y, filters, 3, 1, `${name}_2_conv`, 'same'), `${name}_2_bn`), `${name}_2_relu`);
  y = batchNorm(conv(L, y, 4 * filters, 1, 1, `${name}_3_conv`), `${name}_3_bn`);
  const sum = tf.layers.add({ name: `${name}_add` }).apply([shortcut, y]) as Sym;
  return relu(sum, `${name}_out`);
}

/** One stack of bottleneck blocks: its layer-name prefix, bottleneck width, block count, first block's stride. */
interface ResNetStack {
  name: string;
  filters: number;
  blocks: number;
  stride: number;
}

/** ResNet50's four stacks (Keras `stack_fn` of `ResNet50`); the stem's max pool already halved, so conv2 keeps stride 1. */
const RESNET50_STACKS: readonly ResNetStack[] = [
  { name: 'conv2', filters: 64, blocks: 3, stride: 1 },
  { name: 'conv3', filters: 128, blocks: 4, stride: 2 },
  { name: 'conv4', filters: 256, blocks: 6, stride: 2 },
  { name: 'conv5', filters: 512, blocks: 3, stride: 2 },
];

function stack(L: LayerFactory, x: Sym, { name, filters, blocks, stride }: ResNetStack): Sym {
  let y = bottleneck(L, x, filters, stride, true, `${name}_block1`);
  for (let i = 2; i <= blocks; i++) y = bottleneck(L, y, filters, 1, false, `${name}_block${i}`);
  return y;
}

function buildResNet(
  kerasName: string,
  stacks: readonly ResNetStack[],
  inputShape: InputShape,
  options?: BuildOptions,
): tf.LayersModel {
  const opts = resolveBuildOptions(options);
  checkInputShape(kerasName, inputShape, MIN_INPUT_SIZE);
  const L = layerFactory(opts.initialWeights);
  const input = tf.input({ shape: inputShape, name: 'input_1' });
  let x = tf.layers.zeroPadding2d({ padding: [[3, 3], [3, 3]], name: 'conv1_pad' }).apply(input) as Sym;
  x = relu(batchNorm(conv(L, x, 64, 7, 2, 'conv1_conv'), 'conv1_bn'), 'conv1_relu');
  x = tf.layers.zeroPadding2d({ padding: [[1, 1], [1, 1]], name: 'pool1_pad' }).apply(x) as Sym;
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1_pool' }).apply(x) as Sym;
  for (const s of stacks) x = stack(L, x, s);
  return tf.model({ inputs: input, outputs: applyAvgPoolClassifier(x, opts), name: kerasName.toLowerCase() });
}

export function buildResNet50(inputShape: InputShape, options?: BuildOptions): tf.LayersModel {
  return buildResNet('ResNet50', RESNET50_STACKS, inputShape, options);
}

/**
 * Today's Keras name of a keras-2.2.4 ResNet50 layer (the shipped weights use those): `conv1` →
 * `conv1_conv`, `bn_conv1` → `conv1_bn`, `res3b_branch2c` → `conv3_block2_3_conv`, `bn4a_branch1` →
 * `conv4_block1_0_bn`, `fc1000` → `predictions`. Other names are returned unchanged.
 */
export function kerasLegacyResNetName(name: string): string {
  if (name === 'conv1') return 'conv1_conv';
  if (name === 'bn_conv1') return 'conv1_bn';
  if (name === 'fc1000') return 'predictions';
  const match = /^(res|bn)(\d)([a-z])_branch(1|2[abc])$/.exec(name);
  if (!match) return name;
  const [, kind, stage, letter, branch] = match as unknown as [string, string, string, string, string];
  const block = letter.charCodeAt(0) - 'a'.charCodeAt(0) + 1;
  const part = branch === '1' ? 0 : 'abc'.indexOf(branch[1]!) + 1;
  return `conv${stage}_block${block}_${part}_${kind === 'res' ? 'conv' : 'bn'}`;
}

export const architectures: ArchSpec[] = [
  {
    name: 'resnet50',
    kerasName: 'ResNet50',
    family: 'resnet',
    defaultInputSize: 224,
    minInputSize: MIN_INPUT_SIZE,
    preprocessing: 'caffe',
    featureLayer: 'conv5_block3_out',
    // The last stack (conv5, three bottleneck blocks at the last resolution).
    finetuneFrom: 'conv5_block1_0_conv',
    build: buildResNet50,
    imagenet: kerasApplicationsWeights('resnet', 'resnet50', {
      top: '2cb95161c43110f7111970584f804107',
      notop: '4d473c1dd8becc155b73f8504c6f6626',
    }),
    // The ImageNet weights shipped in data/ (float16 copy of keras-2.2.4 ResNet50; SOURCE.md there).
    builtinWeights: { dir: 'data/weights/resnet50_imagenet', format: 'tfjs-manifest', includesTop: true },
    savedLayerName: kerasLegacyResNetName,
  },
];
