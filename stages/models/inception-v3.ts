// InceptionV3 (Szegedy et al. 2015) as Keras Applications builds it: a five-conv stem, then
// eleven Inception modules `mixed0`…`mixed10` (35x35, reduction, 17x17 with factorised 7x7,
// reduction, 8x8 with split 3x3). Every conv is conv(no bias) → BN(no gamma, epsilon 1e-3) → ReLU,
// and Keras leaves those layers unnamed, so they get Keras' automatic names in creation order.
import * as tf from '@tensorflow/tfjs';
import { checkInputShape, resolveBuildOptions, type ArchSpec, type BuildOptions, type InputShape } from './arch-spec.js';
import { applyAvgPoolClassifier } from './classifier-head.js';
import { KerasAutoNames } from './keras-names.js';
import { allowTrainingBatchNormWithoutScale } from './batch-norm-without-scale.js';
import { layerFactory, type LayerFactory } from './layer-factory.js';
import { kerasApplicationsWeights } from './keras-weight-urls.js';

const BN_EPSILON = 1e-3;
const MIN_INPUT_SIZE = 75;

type Sym = tf.SymbolicTensor;

allowTrainingBatchNormWithoutScale();

class InceptionBuilder {
  readonly names = new KerasAutoNames();

  constructor(private readonly L: LayerFactory) {}

  /** Keras' `conv2d_bn`: conv (no bias) → BN without scale → ReLU. */
  convBn(x: Sym, filters: number, rows: number, cols: number, strides = 1, padding: 'same' | 'valid' = 'same'): Sym {
    let y = this.L
      .conv2d({ filters, kernelSize: [rows, cols], strides, padding, useBias: false, name: this.names.next('conv2d') })
      .apply(x) as Sym;
    y = tf.layers
      .batchNormalization({ axis: -1, epsilon: BN_EPSILON, scale: false, name: this.names.next('batch_normalization') })
      .apply(y) as Sym;
    return tf.layers.activation({ activation: 'relu', name: this.names.next('activation') }).apply(y) as Sym;
  }

  maxPool(x: Sym, name = this.names.next('max_pooling2d')): Sym {
    return tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name }).apply(x) as Sym;
  }

  avgPoolSame(x: Sym): Sym {
    return tf.layers
      .averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: this.names.next('average_pooling2d') })
      .apply(x) as Sym;
  }

  concat(branches: Sym[], name = this.names.next('concatenate')): Sym {
    return tf.layers.concatenate({ axis: -1, name }).apply(branches) as Sym;
  }

  /** 35x35 module (mixed0-2): 1x1, 5x5, double 3x3 and pooled branches. */
  module35(x: Sym, poolFilters: number, name: string): Sym {
    const b1 = this.convBn(x, 64, 1, 1);
    let b5 = this.convBn(x, 48, 1, 1);
    b5 = this.convBn(b5, 64, 5, 5);
    let b3 = this.convBn(x, 64, 1, 1);
    b3 = this.convBn(b3, 96, 3, 3);
    b3 = this.convBn(b3, 96, 3, 3);
    const bp = this.convBn(this.avgPoolSame(x), poolFilters, 1, 1);
    return this.concat([b1, b5, b3, bp], name);
  }

  /** 35 → 17 reduction (mixed3). */
  reduction35(x: Sym): Sym {
    const b3 = this.convBn(x, 384, 3, 3, 2, 'valid');
    let bd = this.convBn(x, 64, 1, 1);
    bd = this.convBn(bd, 96, 3, 3);
    bd = this.convBn(bd, 96, 3, 3, 2, 'valid');
    const bp = this.maxPool(x);
    return this.concat([b3, bd, bp], 'mixed3');
  }

  /** 17x17 module (mixed4-7) with 7x7 convolutions factorised into 1x7 and 7x1; `c` inner channels. */
  module17(x: Sym, c: number, name: string): Sym {
    const b1 = this.convBn(x, 192, 1, 1);
    let b7 = this.convBn(x, c, 1, 1);
    b7 = this.convBn(b7, c, 1, 7);
    b7 = this.convBn(b7, 192, 7, 1);
    let bd = this.convBn(x, c, 1, 1);
    bd = this.convBn(bd, c, 7, 1);
    bd = this.convBn(bd, c, 1, 7);
    bd = this.convBn(bd, c, 7, 1);
    bd = this.convBn(bd, 192, 1, 7);
    const bp = this.convBn(this.avgPoolSame(x), 192, 1, 1);
    return this.concat([b1, b7, bd, bp], name);
  }

  /** 17 → 8 reduction (mixed8). */
  reduction17(x: Sym): Sym {
    let b3 = this.convBn(x, 192, 1, 1);
    b3 = this.convBn(b3, 320, 3, 3, 2, 'valid');
    let b7 = this.convBn(x, 192, 1, 1);
    b7 = this.convBn(b7, 192, 1, 7);
    b7 = this.convBn(b7, 192, 7, 1);
    b7 = this.convBn(b7, 192, 3, 3, 2, 'valid');
    const bp = this.maxPool(x);
    return this.concat([b3, b7, bp], 'mixed8');
  }

  /** 8x8 module (mixed9, mixed10) whose 3x3 branches split into parallel 1x3 and 3x1. */
  module8(x: Sym, index: 0 | 1): Sym {
    const b1 = this.convBn(x, 320, 1, 1);
    const b3 = this.convBn(x, 384, 1, 1);
    const b3a = this.convBn(b3, 384, 1, 3);
    const b3b = this.convBn(b3, 384, 3, 1);
    const b3cat = this.concat([b3a, b3b], `mixed9_${index}`);
    let bd = this.convBn(x, 448, 1, 1);
    bd = this.convBn(bd, 384, 3, 3);
    const bda = this.convBn(bd, 384, 1, 3);
    const bdb = this.convBn(bd, 384, 3, 1);
    const bdcat = this.concat([bda, bdb]);
    const bp = this.convBn(this.avgPoolSame(x), 192, 1, 1);
    return this.concat([b1, b3cat, bdcat, bp], `mixed${9 + index}`);
  }
}

export function buildInceptionV3(inputShape: InputShape, options?: BuildOptions): tf.LayersModel {
  const opts = resolveBuildOptions(options);
  checkInputShape('InceptionV3', inputShape, MIN_INPUT_SIZE);
  const b = new InceptionBuilder(layerFactory(opts.initialWeights));
  const input = tf.input({ shape: inputShape, name: 'input_1' });
  let x = b.convBn(input, 32, 3, 3, 2, 'valid');
  x = b.convBn(x, 32, 3, 3, 1, 'valid');
  x = b.convBn(x, 64, 3, 3);
  x = b.maxPool(x);
  x = b.convBn(x, 80, 1, 1, 1, 'valid');
  x = b.convBn(x, 192, 3, 3, 1, 'valid');
  x = b.maxPool(x);
  x = b.module35(x, 32, 'mixed0');
  x = b.module35(x, 64, 'mixed1');
  x = b.module35(x, 64, 'mixed2');
  x = b.reduction35(x);
  x = b.module17(x, 128, 'mixed4');
  x = b.module17(x, 160, 'mixed5');
  x = b.module17(x, 160, 'mixed6');
  x = b.module17(x, 192, 'mixed7');
  x = b.reduction17(x);
  x = b.module8(x, 0);
  x = b.module8(x, 1);
  return tf.model({ inputs: input, outputs: applyAvgPoolClassifier(x, opts), name: 'inception_v3' });
}

export const architectures: ArchSpec[] = [
  {
    name: 'inception_v3',
    kerasName: 'InceptionV3',
    family: 'inception-v3',
    defaultInputSize: 299,
    minInputSize: MIN_INPUT_SIZE,
    preprocessing: 'tf',
    featureLayer: 'mixed10',
    build: buildInceptionV3,
    imagenet: kerasApplicationsWeights('inception_v3', 'inception_v3', {
      top: '9a0d58056eeedaa3f26cb7ebd46da564',
      notop: 'bcbd6486424b2319ff4ef7d526e38f63',
    }),
  },
];
