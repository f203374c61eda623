// VGG16 and VGG19 (Simonyan & Zisserman 2014) as Keras Applications builds them: five blocks of
// 3x3 convolutions (with bias, ReLU) and 2x2 max pooling, then two 4096-wide dense layers.
import * as tf from '@tensorflow/tfjs';
import { checkInputShape, resolveBuildOptions, type ArchSpec, type InputShape, type BuildOptions } from './arch-spec.js';
import { applyPooling } from './classifier-head.js';
import { layerFactory } from './layer-factory.js';
import { kerasApplicationsWeights } from './keras-weight-urls.js';

const FILTERS = [64, 128, 256, 512, 512] as const;
const MIN_INPUT_SIZE = 32;

/** Convolutions per block: VGG16 and VGG19 differ only here. */
function buildVgg(kerasName: string, convsPerBlock: readonly number[], inputShape: InputShape, options?: BuildOptions) {
  const opts = resolveBuildOptions(options);
  checkInputShape(kerasName, inputShape, MIN_INPUT_SIZE);
  const L = layerFactory(opts.initialWeights);
  const input = tf.input({ shape: inputShape, name: 'input_1' });
  let x: tf.SymbolicTensor = input;
  FILTERS.forEach((filters, b) => {
    const block = `block${b + 1}`;
    for (let i = 1; i <= convsPerBlock[b]!; i++) {
      x = L
        .conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', name: `${block}_conv${i}` })
        .apply(x) as tf.SymbolicTensor;
    }
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `${block}_pool` }).apply(x) as tf.SymbolicTensor;
  });
  if (opts.includeTop) {
    x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
    x = L.dense({ units: 4096, activation: 'relu', name: 'fc1' }).apply(x) as tf.SymbolicTensor;
    x = L.dense({ units: 4096, activation: 'relu', name: 'fc2' }).apply(x) as tf.SymbolicTensor;
    x = L
      .dense({ units: opts.classes, activation: opts.classifierActivation, name: 'predictions' })
      .apply(x) as tf.SymbolicTensor;
  } else {
    x = applyPooling(x, opts.pooling);
  }
  return tf.model({ inputs: input, outputs: x, name: kerasName.toLowerCase() });
}

export const buildVgg16 = (inputShape: InputShape, options?: BuildOptions) => buildVgg('VGG16', [2, 2, 3, 3, 3], inputShape, options);
export const buildVgg19 = (inputShape: InputShape, options?: BuildOptions) => buildVgg('VGG19', [2, 2, 4, 4, 4], inputShape, options);

const common = { family: 'vgg', defaultInputSize: 224, minInputSize: MIN_INPUT_SIZE, preprocessing: 'caffe', featureLayer: 'block5_pool' } as const;

export const architectures: ArchSpec[] = [
  {
    ...common,
    name: 'vgg16',
    kerasName: 'VGG16',
    build: buildVgg16,
    imagenet: kerasApplicationsWeights('vgg16', 'vgg16', {
      top: '64373286793e3c8b2b4e3219cbf3544b',
      notop: '6d6bbae143d832006294945121d1f1fc',
    }),
  },
  {
    ...common,
    name: 'vgg19',
    kerasName: 'VGG19',
    build: buildVgg19,
    imagenet: kerasApplicationsWeights('vgg19', 'vgg19', {
      top: 'cbe5617147190e668d6c5d5026f83318',
      notop: '253f8cb515780f3b799900260a226db6',
    }),
  },
];
