// Self-training of a whole model's head on one folder of images from one lab (`pipe predict --adapt
// self-training`): the images go through the model up to its head once, and the head trains on its own most
// confident labels of them (self-training.ts), exactly as the leave-one-lab-out study measured it on cached
// features (cross-lab, adapt: self-training). With views, each image's augmented variants go through the model
// too and join it, as the study's held-out cells did. The backbone is left as it is.
import * as tf from '@tensorflow/tfjs';
import { inputInModel } from './batch-norm-recalibration.js';
import { applyLayers } from './graph-surgery.js';
import { imagesToTensor, type Preprocessing } from './preprocessing.js';
import { selfTrainHead, type SelfTrainingSettings } from './self-training.js';
import { jitteredCellSize, modelInput } from './cell-size.js';

/** Each image's cell size relative to the folder's cells, for a model that takes it; views carry it ± jitter, as training's variants did. */
export interface FolderCellSizes {
  values: readonly number[];
  jitter: number;
}

// The study head's Keras layer names (graph-surgery.ts, createHeadLayers); the standardisation is optional.
const STANDARDIZE = 'head_standardize';
const HEAD = ['head_dense', 'head_dropout', 'head_predictions'] as const;

function layerOrNull(model: tf.LayersModel, name: string): tf.layers.Layer | null {
  return model.layers.find((l) => l.name === name) ?? null;
}

/** The study head's layers inside `model`, first to last, or null when the model has no such head (a CNN, an ensemble). */
export function studyHead(model: tf.LayersModel): tf.layers.Layer[] | null {
  const head = HEAD.map((n) => layerOrNull(model, n));
  if (head.some((l) => !l)) return null;
  const standardize = layerOrNull(model, STANDARDIZE);
  const layers = [...(standardize ? [standardize] : []), ...(head as tf.layers.Layer[])];
  return inputInModel(model, layers[0]!).shape.length === 2 ? layers : null;
}

export interface FolderSelfTraining {
  /** The layers trained. */
  layers: string[];
  /** Each image's class probabilities afterwards: the mean over it and its views. */
  probabilities: number[][];
}

/** Labelled images of the lab (`pipe predict --labelled`): every round trains on them with their classes. */
export interface FolderAnchors {
  images: readonly Uint8Array[];
  /** Class index of each image. */
  labels: readonly number[];
  /** Their augmented variants, as `views` are the images'. */
  views?: readonly (() => Promise<readonly Uint8Array[]>)[];
  /** Their cells' sizes, for a model that takes them. */
  cellSizes?: FolderCellSizes;
}

/**
 * Self-trains `model`'s head in place on `images` (RGB at the model's input size); `views` give the images'
 * augmented variants, one producer per variant returning that variant of every image in the images' order
 * (none: the images alone); each view's pixels are dropped once its vectors are taken. `anchors` are labelled
 * images that join every round with their classes. Returns the layers trained and the images' probabilities, or
 * null when the model has no study head.
 */
export async function selfTrainOnFolder(
  model: tf.LayersModel,
  images: readonly Uint8Array[],
  options: {
    size: number;
    preprocessing: Preprocessing;
    batchSize?: number;
    settings: SelfTrainingSettings;
    seed: number;
    views?: readonly (() => Promise<readonly Uint8Array[]>)[];
    anchors?: FolderAnchors;
    cellSizes?: FolderCellSizes;
  },
): Promise<FolderSelfTraining | null> {
  const head = studyHead(model);
  if (!head) return null;
  const features = inputInModel(model, head[0]!);
  const dim = features.shape[1] as number;
  const probe = tf.model({ inputs: model.inputs, outputs: features, name: `${model.name}_head_input` });
  const batchSize = options.batchSize ?? 32;
  // View k of image i carries the image's size ± jitter, fixed by (i, k), as augment's variants did in training.
  const sizesOf = (sizes: FolderCellSizes | undefined, view: number | null): number[] | undefined =>
    sizes && (view === null ? [...sizes.values] : sizes.values.map((v, i) => jitteredCellSize(v, `${i}__v${view}`, sizes.jitter)));
  const vectors = async (list: readonly Uint8Array[], sizes: number[] | undefined): Promise<Float32Array> => {
    const x = new Float32Array(list.length * dim);
    for (let start = 0; start < list.length; start += batchSize) {
      const batch = imagesToTensor(list.slice(start, start + batchSize), options.size, options.preprocessing);
      const input = modelInput(probe, batch, sizes?.slice(start, start + batchSize));
      const out = probe.predict(input) as tf.Tensor;
      x.set(await out.data(), start * dim);
      tf.dispose([batch, input, out]);
    }
    return x;
  };
  const x = await vectors(images, sizesOf(options.cellSizes, null));
  const views: Float32Array[] = [];
  for (const [k, view] of (options.views ?? []).entries()) views.push(await vectors(await view(), sizesOf(options.cellSizes, k)));
  // The labelled images and each of their variants: one more row per image and variant, with its class.
  let anchors: { x: Float32Array; labels: number[] } | undefined;
  if (options.anchors?.images.length) {
    const { images: labelled, labels } = options.anchors;
    const sizes = options.anchors.cellSizes;
    const copies = [await vectors(labelled, sizesOf(sizes, null))];
    for (const [k, view] of (options.anchors.views ?? []).entries()) copies.push(await vectors(await view(), sizesOf(sizes, k)));
    const x = new Float32Array(copies.length * labelled.length * dim);
    copies.forEach((v, j) => x.set(v, j * labelled.length * dim));
    anchors = { x, labels: copies.flatMap(() => [...labels]) };
  }
  // The same layer objects on a vector input: training this model trains the whole model's head.
  const input = tf.input({ shape: [dim], name: 'head_input' });
  const headOnly = tf.model({ inputs: input, outputs: applyLayers(input, head), name: `${model.name}_head` });
  const probabilities = await selfTrainHead(headOnly, x, dim, { settings: options.settings, seed: options.seed, stateDir: null, views, anchors });
  return { layers: head.map((l) => l.name), probabilities };
}
