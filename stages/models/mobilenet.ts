// MobileNet v1 (Howard et al. 2017) as Keras Applications builds it: a strided 3x3 conv, then 13
// depthwise-separable blocks, width scaled by α. Layer names are Keras', so Keras weights load by name.
import * as tf from '@tensorflow/tfjs';
import {
  checkInputShape,
  resolveBuildOptions,
  type ArchSpec,
  type BuildOptions,
  type InputShape,
  type KerasWeightFile,
} from './arch-spec.js';
import { layerFactory, type LayerFactory } from './layer-factory.js';
import { applyPooling } from './classifier-head.js';

const BN_EPSILON = 1e-3;
const MIN_INPUT_SIZE = 32;
const WEIGHTS_BASE_URL = 'https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/';

/** Pointwise widths (at α = 1) and depthwise strides of blocks 1..13. */
const BLOCKS: ReadonlyArray<{ filters: number; stride: 1 | 2 }> = [
  { filters: 64, stride: 1 },
  { filters: 128, stride: 2 },
  { filters: 128, stride: 1 },
  { filters: 256, stride: 2 },
  { filters: 256, stride: 1 },
  { filters: 512, stride: 2 },
  { filters: 512, stride: 1 },
  { filters: 512, stride: 1 },
  { filters: 512, stride: 1 },
  { filters: 512, stride: 1 },
  { filters: 512, stride: 1 },
  { filters: 1024, stride: 2 },
  { filters: 1024, stride: 1 },
];

export interface MobileNetOptions extends BuildOptions {
  /** Width multiplier α (Keras `alpha`). */
  alpha?: number;
  /** Keras `depth_multiplier` of the depthwise convolutions. Default 1. */
  depthMultiplier?: number;
  /** Dropout before the classifier. Default 1e-3 (Keras). */
  dropout?: number;
}

function batchNorm(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, name }).apply(x) as tf.SymbolicTensor;
}

function relu6(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return tf.layers.reLU({ maxValue: 6, name }).apply(x) as tf.SymbolicTensor;
}

function depthwiseSeparableBlock(
  L: LayerFactory,
  x: tf.SymbolicTensor,
  pointwiseFilters: number,
  depthMultiplier: number,
  stride: 1 | 2,
  id: number,
): tf.SymbolicTensor {
  let y = x;
  if (stride === 2) {
    // Keras pads bottom/right only, then convolves 'valid' (TF's 'same' for stride 2 on even sizes).
    y = tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: `conv_pad_${id}` }).apply(y) as tf.SymbolicTensor;
  }
  y = L
    .depthwiseConv2d({
      kernelSize: 3,
      depthMultiplier,
      strides: stride,
      padding: stride === 1 ? 'same' : 'valid',
      useBias: false,
      name: `conv_dw_${id}`,
    })
    .apply(y) as tf.SymbolicTensor;
  y = relu6(batchNorm(y, `conv_dw_${id}_bn`), `conv_dw_${id}_relu`);
  y = L
    .conv2d({ filters: pointwiseFilters, kernelSize: 1, padding: 'same', useBias: false, name: `conv_pw_${id}` })
    .apply(y) as tf.SymbolicTensor;
  return relu6(batchNorm(y, `conv_pw_${id}_bn`), `conv_pw_${id}_relu`);
}

export function buildMobileNet(inputShape: InputShape, options: MobileNetOptions = {}): tf.LayersModel {
  const opts = resolveBuildOptions(options);
  const alpha = options.alpha ?? 1.0;
  const depthMultiplier = options.depthMultiplier ?? 1;
  const dropout = options.dropout ?? 1e-3;
  if (!(alpha > 0)) throw new Error(`MobileNet: alpha must be > 0, got ${alpha}`);
  checkInputShape('MobileNet', inputShape, MIN_INPUT_SIZE);
  const L = layerFactory(opts.initialWeights);

  const input = tf.input({ shape: inputShape, name: 'input_1' });
  let x = L
    .conv2d({
      filters: Math.trunc(32 * alpha),
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      useBias: false,
      name: 'conv1',
    })
    .apply(input) as tf.SymbolicTensor;
  x = relu6(batchNorm(x, 'conv1_bn'), 'conv1_relu');
  BLOCKS.forEach((block, i) => {
    x = depthwiseSeparableBlock(L, x, Math.trunc(block.filters * alpha), depthMultiplier, block.stride, i + 1);
  });

  if (opts.includeTop) {
    const channels = Math.trunc(1024 * alpha);
    x = tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reshape({ targetShape: [1, 1, channels], name: 'reshape_1' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dropout({ rate: dropout, name: 'dropout' }).apply(x) as tf.SymbolicTensor;
    x = L
      .conv2d({ filters: opts.classes, kernelSize: 1, padding: 'same', name: 'conv_preds' })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers.reshape({ targetShape: [opts.classes], name: 'reshape_2' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.activation({ activation: opts.classifierActivation, name: 'predictions' }).apply(x) as tf.SymbolicTensor;
  } else {
    x = applyPooling(x, opts.pooling);
  }
  const rows = inputShape[0];
  return tf.model({ inputs: input, outputs: x, name: `mobilenet_${alpha.toFixed(2)}_${rows}` });
}

/** Keras' spelling of α in weight file names. */
function alphaText(alpha: number): string {
  return { 1: '1_0', 0.75: '7_5', 0.5: '5_0', 0.25: '2_5' }[alpha] ?? String(alpha).replace('.', '_');
}

function kerasWeightFile(alpha: number, includeTop: boolean): KerasWeightFile {
  const file = `mobilenet_${alphaText(alpha)}_224_tf${includeTop ? '' : '_no_top'}.h5`;
  // Keras Applications downloads MobileNet files without a checksum, so there is none to check.
  return { file, url: WEIGHTS_BASE_URL + file, md5: null };
}

function mobileNetSpec(alpha: number): ArchSpec {
  const name = `mobilenet_v1_${alpha === 1 ? '1.0' : String(alpha)}`;
  const alphaTag = alpha.toFixed(2).replace(/0$/, '');
  return {
    name,
    kerasName: 'MobileNet',
    family: 'mobilenet',
    defaultInputSize: 224,
    minInputSize: MIN_INPUT_SIZE,
    preprocessing: 'tf',
    featureLayer: 'conv_pw_13_relu',
    // The last two depthwise-separable blocks (12: stride 2 to the last resolution, and 13).
    finetuneFrom: 'conv_pad_12',
    build: (inputShape, options) => buildMobileNet(inputShape, { ...options, alpha }),
    imagenet: { top: kerasWeightFile(alpha, true), notop: kerasWeightFile(alpha, false) },
    // α = 0.25 and 0.75 are shipped in data/weights (their SOURCE.md files say where from).
    ...(alpha === 0.25 || alpha === 0.75
      ? { builtinWeights: { dir: `data/weights/mobilenet_v1_${alphaTag}_224`, format: 'tfjs-manifest', includesTop: true } }
      : {}),
  };
}

export const architectures: ArchSpec[] = [0.25, 0.5, 0.75, 1.0].map(mobileNetSpec);
