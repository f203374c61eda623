// Streams labelled batches from disk: only the current batch and the one being prefetched are in memory.
// The order of each epoch is a seeded permutation, so a resumed run sees the same batches.
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { mulberry32 } from '../random.js';
import { imagesToTensor, type Preprocessing } from './preprocessing.js';
import { readImageRgb } from './read-image.js';

export interface Batch {
  /** The model's input, or its inputs in order (a fine-tuned top reads several). */
  x: tf.Tensor | tf.Tensor[];
  /** One-hot labels [n, classes]. */
  y: tf.Tensor2D;
  size: number;
}

export interface BatchSource {
  readonly count: number;
  readonly batchSize: number;
  /** Batches of one epoch; `shuffleSeed` null keeps file order. The caller disposes each batch. */
  batches(shuffleSeed: number | null): AsyncGenerator<Batch>;
}

export interface LabelledItem {
  path: string;
  label: number;
}

/** Fisher–Yates permutation of 0..n-1 driven by a seeded generator. */
export function seededPermutation(n: number, seed: number): number[] {
  const random = mulberry32(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The seed of epoch `epoch` (0-based) of a run seeded with `seed`. */
export function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed >>> 0, 1_000_003) + epoch * 7919 + 1) >>> 0;
}

type LoadInputs<T> = (items: T[]) => Promise<tf.Tensor | tf.Tensor[]>;

/** Batches of `items` in seeded order, each one's inputs made by `load`; the next batch loads while the current one trains. */
export function labelledBatchSource<T extends LabelledItem>(items: readonly T[], batchSize: number, classes: number, load: LoadInputs<T>): BatchSource {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  return {
    count: items.length,
    batchSize,
    async *batches(shuffleSeed) {
      const order = shuffleSeed === null ? items.map((_, i) => i) : seededPermutation(items.length, shuffleSeed);
      const chunks: T[][] = [];
      for (let i = 0; i < order.length; i += batchSize) chunks.push(order.slice(i, i + batchSize).map((k) => items[k]!));
      // Decode the next batch (sharp works off the JS thread) while the current one trains.
      let pending = chunks[0] ? load(chunks[0]) : null;
      try {
        for (let c = 0; c < chunks.length; c++) {
          const chunk = chunks[c]!;
          const x = await pending!;
          pending = chunks[c + 1] ? load(chunks[c + 1]!) : null;
          const y = tf.tidy(() => tf.oneHot(tf.tensor1d(chunk.map((it) => it.label), 'int32'), classes).toFloat() as tf.Tensor2D);
          yield { x, y, size: chunk.length };
        }
      } finally {
        // A consumer that stops early (break) leaves the prefetched batch behind.
        pending?.then((x) => tf.dispose(x), () => {});
      }
    },
  };
}

/** Batches of images read from disk, resized to `size` and preprocessed. */
export function imageBatchSource(
  items: readonly LabelledItem[],
  options: { batchSize: number; classes: number; size: number; preprocessing: Preprocessing },
): BatchSource {
  return labelledBatchSource(items, options.batchSize, options.classes, async (chunk) => {
    const images = await Promise.all(chunk.map((it) => readImageRgb(it.path, options.size)));
    return imagesToTensor(images, options.size, options.preprocessing);
  });
}

/** Reads a little-endian float32 vector file written by the features stage. */
export async function readFeatureVector(path: string): Promise<Float32Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new Error(`${path}: feature vector is missing (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (bytes.byteLength % 4 !== 0) throw new Error(`${path}: ${bytes.byteLength} bytes is not a float32 vector`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Batches of cached feature vectors (`path` points at the .f32 file), each optionally transformed in place. */
export function featureBatchSource(
  items: readonly LabelledItem[],
  options: { batchSize: number; classes: number; dim: number; transform?: (vector: Float32Array) => void },
): BatchSource {
  return labelledBatchSource(items, options.batchSize, options.classes, async (chunk) => {
    const out = new Float32Array(chunk.length * options.dim);
    const vectors = await Promise.all(chunk.map((it) => readFeatureVector(it.path)));
    vectors.forEach((v, i) => {
      if (v.length !== options.dim) throw new Error(`${chunk[i]!.path}: feature length ${v.length}, expected ${options.dim}`);
      options.transform?.(v);
      out.set(v, i * options.dim);
    });
    return tf.tensor2d(out, [chunk.length, options.dim]);
  });
}
