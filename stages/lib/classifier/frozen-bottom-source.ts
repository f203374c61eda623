// Fine-tuning trains only the top of a base; the frozen bottom runs in inference mode with fixed weights,
// so its output for an image is the same in every epoch, in the recalibration batches and in validation.
// Its kernels compute each image's rows independently of the rest of the batch (test/study checks it on
// the shipped bases), so an output kept from one batch is the same bits as one computed in another.
// These sources compute each image's bottom output once and serve it from memory afterwards: a
// MobileNet α=0.25 fine-tune epoch drops from ~39 s to the top's own cost after the first.
import * as tf from '@tensorflow/tfjs';
import { labelledBatchSource, type BatchSource, type LabelledItem } from './batch-source.js';
import { imagesToTensor, type Preprocessing } from './preprocessing.js';
import { readImageRgb } from './read-image.js';

/** Kept outputs, by image path: one row per bottom output. Shared by the sources of one fine-tune. */
export class BottomOutputCache {
  private rows = new Map<string, Float32Array[]>();
  private bytes = 0;
  /** Images whose output did not fit in the budget (computed again each time they are needed). */
  overflow = 0;

  constructor(readonly budgetBytes: number) {}

  get(path: string): Float32Array[] | undefined {
    return this.rows.get(path);
  }

  put(path: string, rows: Float32Array[]): void {
    if (this.rows.has(path)) return;
    const size = rows.reduce((n, r) => n + r.byteLength, 0);
    if (this.bytes + size > this.budgetBytes) {
      this.overflow++;
      return;
    }
    this.rows.set(path, rows);
    this.bytes += size;
  }

  get images(): number {
    return this.rows.size;
  }

  get megabytes(): number {
    return Math.round(this.bytes / 2 ** 20);
  }
}

/**
 * Batches of `bottom`'s outputs for images read from disk, from `cache` where it holds them; with `sizeOf`, each
 * batch also gives its cells' sizes ([n, 1], cell-size.ts) as the last input.
 */
export function frozenBottomSource<T extends LabelledItem>(
  items: readonly T[],
  options: { batchSize: number; classes: number; size: number; preprocessing: Preprocessing; bottom: tf.LayersModel; cache: BottomOutputCache; sizeOf?: ((item: T) => number) | null },
): BatchSource {
  const { bottom, cache } = options;
  const shapes = (bottom.outputs as tf.SymbolicTensor[]).map((t) => t.shape.slice(1) as number[]);
  const rowLength = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  return labelledBatchSource(items, options.batchSize, options.classes, async (chunk) => {
    const missing = chunk.filter((it) => !cache.get(it.path));
    const computed = new Map<string, Float32Array[]>();
    if (missing.length > 0) {
      const images = await Promise.all(missing.map((it) => readImageRgb(it.path, options.size)));
      const outputs = tf.tidy(() => {
        const out = bottom.predict(imagesToTensor(images, options.size, options.preprocessing)) as tf.Tensor | tf.Tensor[];
        return Array.isArray(out) ? out : [out];
      });
      // A batch computed whole is the batch itself; rows are copied out only to be kept.
      if (missing.length === chunk.length && cache.overflow > 0) return withSizes(outputs, chunk);
      const data = await Promise.all(outputs.map((t) => t.data() as Promise<Float32Array>));
      tf.dispose(outputs);
      missing.forEach((it, r) => {
        const rows = data.map((d, o) => d.slice(r * rowLength[o]!, (r + 1) * rowLength[o]!));
        computed.set(it.path, rows);
        cache.put(it.path, rows);
      });
    }
    const inputs = shapes.map((shape, o) => {
      const values = new Float32Array(chunk.length * rowLength[o]!);
      chunk.forEach((it, r) => values.set((cache.get(it.path) ?? computed.get(it.path)!)[o]!, r * rowLength[o]!));
      return tf.tensor(values, [chunk.length, ...shape]);
    });
    return withSizes(inputs, chunk);
  });
  function withSizes(inputs: tf.Tensor[], chunk: T[]): tf.Tensor | tf.Tensor[] {
    const sizeOf = options.sizeOf;
    const all = sizeOf ? [...inputs, tf.tensor2d(chunk.map(sizeOf), [chunk.length, 1])] : inputs;
    return all.length === 1 ? all[0]! : all;
  }
}
