// Class probabilities for many images, in batches, with the model's time per image measured apart
// from decoding.
import * as tf from '@tensorflow/tfjs';
import { imagesToTensor, type Preprocessing } from './preprocessing.js';
import { modelInput } from './cell-size.js';

export interface InferenceResult {
  /** One row per item, in class order. */
  probabilities: number[][];
  /** Milliseconds of model time per image (decode and preprocessing excluded). */
  msPerImage: number;
}

export async function predictProbabilities<T>(
  model: tf.LayersModel,
  items: readonly T[],
  loadRgb: (item: T) => Promise<Uint8Array>,
  options: {
    size: number;
    preprocessing: Preprocessing;
    batchSize?: number;
    onBatch?: (done: number) => void;
    /** Each item's cell size relative to its lab, for a model that takes it (cell-size.ts). */
    cellSizes?: readonly number[];
  },
): Promise<InferenceResult> {
  const batchSize = options.batchSize ?? 32;
  const probabilities: number[][] = [];
  let modelMs = 0;
  let next = items.length > 0 ? Promise.all(items.slice(0, batchSize).map(loadRgb)) : null;
  for (let start = 0; start < items.length; start += batchSize) {
    const images = await next!;
    const following = items.slice(start + batchSize, start + 2 * batchSize);
    next = following.length > 0 ? Promise.all(following.map(loadRgb)) : null;
    const x = imagesToTensor(images, options.size, options.preprocessing);
    const t0 = performance.now();
    const input = modelInput(model, x, options.cellSizes?.slice(start, start + images.length));
    const y = model.predict(input) as tf.Tensor;
    const rows = (await y.array()) as number[][];
    modelMs += performance.now() - t0;
    tf.dispose([x, input, y]);
    probabilities.push(...rows);
    options.onBatch?.(probabilities.length);
  }
  return { probabilities, msPerImage: items.length === 0 ? 0 : modelMs / items.length };
}

export function argMax(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}
