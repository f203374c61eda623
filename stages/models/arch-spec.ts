// The shape every architecture family exports: what the registry, the `weights` stage, feature
// extraction and training need to know about one architecture.
import type * as tf from '@tensorflow/tfjs';
import type { InitialWeights } from './layer-factory.js';
import type { PreprocessingMode } from './preprocessing.js';

export type InputShape = [height: number, width: number, channels: number];

export interface BuildOptions {
  /** Keep the ImageNet classifier head (Keras `include_top`). Default true. */
  includeTop?: boolean;
  /** Classes of the head when `includeTop`. Default 1000. */
  classes?: number;
  /** Global pooling after the base when `includeTop` is false (Keras `pooling`). Default none (4-D output). */
  pooling?: 'avg' | 'max' | null;
  /** Activation of the head. Default 'softmax'. */
  classifierActivation?: 'softmax' | 'linear' | 'sigmoid';
  /** `zeros` skips random initialisation, for models whose weights are loaded right after. Default 'random'. */
  initialWeights?: InitialWeights;
}

/** One Keras Applications weight file as Keras publishes it. */
export interface KerasWeightFile {
  /** e.g. `resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5` */
  file: string;
  url: string;
  /** md5 of the whole file, hex, as listed in Keras Applications; null where Keras lists none. */
  md5: string | null;
}

/** Weights shipped inside the repository (relative to the workspace root). */
export interface BuiltinWeights {
  dir: string;
  format: 'tfjs-manifest';
  /** The shipped file holds the classifier head too (1000 ImageNet classes). */
  includesTop: boolean;
}

export interface ArchSpec {
  /** Name used in pipeline.json, e.g. `densenet121`. */
  name: string;
  /** Keras Applications name, e.g. `DenseNet121`; also the model's name. */
  kerasName: string;
  /** Family file under stages/models/, e.g. `densenet`. */
  family: string;
  defaultInputSize: number;
  /** Smallest square input the base accepts (Keras `min_size`). */
  minInputSize: number;
  preprocessing: PreprocessingMode;
  /** Name of the last layer of the convolutional base (before pooling and head). */
  featureLayer: string;
  /** First layer that fine-tuning trains by default (the top block or stack); the layers before stay frozen. */
  finetuneFrom?: string;
  build(inputShape: InputShape, options?: BuildOptions): tf.LayersModel;
  /** Keras ImageNet weight files (with and without the head). */
  imagenet?: { top: KerasWeightFile; notop: KerasWeightFile };
  /** ImageNet weights shipped in `data/`. */
  builtinWeights?: BuiltinWeights;
  /** Today's Keras layer name for a layer of a weight file that uses an older Keras's names. */
  savedLayerName?: (fileLayerName: string) => string;
}

export interface ResolvedBuildOptions {
  includeTop: boolean;
  classes: number;
  pooling: 'avg' | 'max' | null;
  classifierActivation: 'softmax' | 'linear' | 'sigmoid';
  initialWeights: InitialWeights;
}

export function resolveBuildOptions(options: BuildOptions = {}): ResolvedBuildOptions {
  const resolved: ResolvedBuildOptions = {
    includeTop: options.includeTop ?? true,
    classes: options.classes ?? 1000,
    pooling: options.pooling ?? null,
    classifierActivation: options.classifierActivation ?? 'softmax',
    initialWeights: options.initialWeights ?? 'random',
  };
  if (!Number.isInteger(resolved.classes) || resolved.classes < 1) {
    throw new Error(`classes must be a positive integer, got ${String(options.classes)}`);
  }
  if (resolved.pooling !== null && resolved.pooling !== 'avg' && resolved.pooling !== 'max') {
    throw new Error(`pooling must be 'avg', 'max' or null, got ${JSON.stringify(options.pooling)}`);
  }
  return resolved;
}

/** Rejects input shapes the architecture cannot take, naming the architecture and the limit. */
export function checkInputShape(kerasName: string, shape: InputShape, minSize: number): void {
  const [h, w, c] = shape;
  if (c !== 3) throw new Error(`${kerasName}: input must have 3 channels, got shape [${shape.join(', ')}]`);
  if (!(h >= minSize && w >= minSize)) {
    throw new Error(`${kerasName}: input must be at least ${minSize}x${minSize}, got ${h}x${w}`);
  }
}
