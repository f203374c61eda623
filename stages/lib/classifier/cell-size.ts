// The cell's size relative to its lab, as a second input of a transfer or fine-tuned model. The canonical cell is
// scaled so that every cell fills the same share of its square (cell-representation.ts), which throws
// away size, a cue a haematologist reads first: a lymphocyte is small, a monocyte large. Absolute size
// does not carry across labs (magnifications differ), so the value is log(d / the median d of the lab's
// cells), d = 1 / the canonical crop's scale (source px per cell px), which the cell's equivalent diameter sets
// (cell-representation.ts), so d is the diameter up to a constant that the ratio cancels. A lab's median is over
// the cells at hand: all of a lab's cells in the study, the images of one call in `pipe predict`.
// The head reads the value `copies` times beside the pooled features (one column among a thousand would
// barely move its first layer), and augmented variants carry it ± `jitter` (log units), as a scale
// augmentation would: both measured on the leave-one-lab-out study (BENCHMARKS.md, Labs).
import * as tf from '@tensorflow/tfjs';
import { unitHash } from '../random.js';

export interface CellSizeSettings {
  /** How many times the head reads the value (its weight in the head's first layer). */
  copies: number;
  /** Uniform ± this (log units) on each augmented variant's value, by a hash of the variant's name. */
  jitter: number;
}

export const cellSizeSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: ['copies', 'jitter'],
  properties: { copies: { type: 'integer', minimum: 1, maximum: 64 }, jitter: { type: 'number', minimum: 0, maximum: 2 } },
};

/** The model input's name (Keras layer name) and the layers that join it to the pooled features. */
export const CELL_SIZE_INPUT = 'cell_size';
const REPEAT = 'cell_size_repeat';
const FLATTEN = 'cell_size_flatten';
export const CELL_SIZE_FEATURES = 'cell_size_features';

/** 1 / a canonical crop's scale (output px per source px): the cell's diameter up to a constant; null when no cell was found. */
export function cellDiameter(cell: { status: string; scale?: number | null }): number | null {
  return cell.status === 'ok' && typeof cell.scale === 'number' && cell.scale > 0 ? 1 / cell.scale : null;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** log(d / median); 0 (the lab's typical size) when either is unknown. */
export function relativeCellSize(diameter: number | null, labMedian: number | null): number {
  return diameter !== null && labMedian !== null && labMedian > 0 ? Math.log(diameter / labMedian) : 0;
}

/** Every cell's value relative to the median of the cells given (one lab's, or one folder's). */
export function relativeCellSizes(diameters: readonly (number | null)[]): number[] {
  const m = median(diameters.filter((d): d is number => d !== null));
  return diameters.map((d) => relativeCellSize(d, m));
}

/** An augmented variant's value: the cell's ± jitter, uniform, fixed by the variant's name (`<stem>__v<k>`). */
export function jitteredCellSize(value: number, variantName: string, jitter: number): number {
  return jitter > 0 ? value + (2 * unitHash(variantName) - 1) * jitter : value;
}

/** Rows of an [n, dim] matrix with `copies` more columns, each holding the row's value. */
export function appendCellSize(x: Float32Array, dim: number, values: readonly number[], copies: number): Float32Array {
  const n = values.length;
  if (x.length !== n * dim) throw new Error(`appendCellSize: ${x.length / dim} rows of features, ${n} sizes`);
  const out = new Float32Array(n * (dim + copies));
  for (let i = 0; i < n; i++) {
    out.set(x.subarray(i * dim, (i + 1) * dim), i * (dim + copies));
    out.fill(values[i]!, i * (dim + copies) + dim, (i + 1) * (dim + copies));
  }
  return out;
}

/** A new `cell_size` input and `features` with its value `copies` times after them (what the head reads). */
export function joinCellSize(features: tf.SymbolicTensor, copies: number): { input: tf.SymbolicTensor; joined: tf.SymbolicTensor } {
  const input = tf.input({ shape: [1], name: CELL_SIZE_INPUT });
  const repeated = tf.layers.repeatVector({ n: copies, name: REPEAT }).apply(input) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: FLATTEN }).apply(repeated) as tf.SymbolicTensor;
  const joined = tf.layers.concatenate({ name: CELL_SIZE_FEATURES }).apply([features, flat]) as tf.SymbolicTensor;
  return { input, joined };
}

/** A pooled base taking the image and the cell's size, giving the features with the size `copies` times after them. */
export function withCellSizeInput(base: tf.LayersModel, copies: number): tf.LayersModel {
  if (base.inputs.length !== 1 || base.outputs.length !== 1) throw new Error(`${base.name}: a cell-size input needs a base of one input and one output`);
  const { input, joined } = joinCellSize(base.outputs[0]!, copies);
  return tf.model({ inputs: [base.inputs[0]!, input], outputs: joined, name: base.name });
}

/** Whether `model` takes the cell's size as its second input (a transfer or fine-tuned model, or an ensemble with one). */
export function takesCellSize(model: tf.LayersModel): boolean {
  return model.inputs.length === 2 && (model.inputNames[1] ?? '').endsWith(CELL_SIZE_INPUT);
}

/** What to feed `model` for a batch of images: the images, or the images and their cells' sizes. */
export function modelInput(model: tf.LayersModel, images: tf.Tensor, sizes: readonly number[] | undefined): tf.Tensor | tf.Tensor[] {
  if (!takesCellSize(model)) return images;
  const n = images.shape[0]!;
  if (!sizes || sizes.length !== n) throw new Error(`${model.name} takes each cell's size relative to its lab: ${sizes ? `${sizes.length} sizes for ${n} images` : 'none given'}`);
  return [images, tf.tensor2d([...sizes], [n, 1])];
}
