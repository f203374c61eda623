// Could the small CNN (48 px, rescale) join the ensemble (128 px) by resizing inside the merged graph?
// Feeds the trained small CNN the 128 px inputs the MobileNet models see, downsampled in the graph
// (tfjs resizeBilinear with align-corners, with half-pixel centres, and after a Gaussian blur), and
// compares its answers per source with the lanczos 48 px input it was trained and evaluated on.
//
//   node --import tsx bench/cnn-in-graph-resize.ts
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { join } from 'node:path';
import { initBackend } from '../stages/tf/backend.js';
import { loadModelFromDirectory } from '../stages/lib/classifier/model-directory.js';
import { imagesToTensor } from '../stages/lib/classifier/preprocessing.js';
import { locateTrainedModel } from '../stages/lib/classifier/train-record.js';
import { evaluationItems, modelInputs } from './evaluation-set.js';

const stagesDir = 'artifacts/stages';
const ENSEMBLE_SIZE = 128;
await initBackend({ prefer: 'auto' });
const { modelDir, record } = locateTrainedModel(join(stagesDir, 'train[arch=small_cnn,mode=scratch]'));
const model = await loadModelFromDirectory(modelDir);
const size = record.inputSize;
const items = evaluationItems(stagesDir);
const large = await modelInputs(items, record, ENSEMBLE_SIZE);
// What evaluate feeds the CNN: the same canonical cell, resized by sharp's lanczos3.
const asTrained = await Promise.all(
  large.map(async (rgb) =>
    new Uint8Array(await sharp(Buffer.from(rgb), { raw: { width: ENSEMBLE_SIZE, height: ENSEMBLE_SIZE, channels: 3 } }).resize(size, size, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer()),
  ),
);

/** A depthwise k×k Gaussian blur, padded with white (1 in rescale space) so the border does not darken. */
function gaussianBlur(x: tf.Tensor4D, sigma: number, k: number): tf.Tensor4D {
  const r = (k - 1) / 2;
  const g = Array.from({ length: k }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const total = g.reduce((a, b) => a + b);
  const kernel = tf.tensor4d(
    Array.from({ length: k * k }, (_, i) => (g[Math.floor(i / k)]! * g[i % k]!) / total ** 2).flatMap((v) => [v, v, v]),
    [k, k, 3, 1],
  );
  return tf.depthwiseConv2d(tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], 1), kernel, 1, 'valid');
}
const inGraph: Record<string, (x: tf.Tensor4D) => tf.Tensor4D> = {
  'bilinear, align corners (the tfjs Resizing layer)': (x) => tf.image.resizeBilinear(x, [size, size], true),
  'bilinear, half-pixel centres': (x) => tf.image.resizeBilinear(x, [size, size], false, true),
  'Gaussian σ 1.0, then bilinear': (x) => tf.image.resizeBilinear(gaussianBlur(x, 1.0, 5), [size, size], false, true),
  'Gaussian σ 1.2, then bilinear': (x) => tf.image.resizeBilinear(gaussianBlur(x, 1.2, 7), [size, size], false, true),
};

async function classify(batch: (start: number) => tf.Tensor4D): Promise<number[]> {
  const out: number[] = [];
  for (let start = 0; start < items.length; start += 32) {
    const x = batch(start);
    const y = model.predict(x) as tf.Tensor;
    out.push(...((await y.argMax(-1).array()) as number[]));
    tf.dispose([x, y]);
  }
  return out;
}

const sources = [...new Set(items.map((i) => i.source))];
console.log(`| CNN input | ${sources.join(' | ')} | answers equal to the trained path |`);
console.log(`|---|${sources.map(() => '---|').join('')}---|`);
const reference = await classify((start) => imagesToTensor(asTrained.slice(start, start + 32), size, record.preprocessing));
const row = (name: string, predicted: number[]) => {
  const accuracy = sources.map((source) => {
    const mine = items.flatMap((it, i) => (it.source === source ? [record.classes[predicted[i]!] === it.truth] : []));
    return ((100 * mine.filter(Boolean).length) / mine.length).toFixed(1);
  });
  const agree = predicted.filter((p, i) => p === reference[i]).length / predicted.length;
  console.log(`| ${name} | ${accuracy.join(' | ')} | ${(100 * agree).toFixed(1)}% |`);
};
row(`lanczos ${size} px (as trained, evaluate)`, reference);
for (const [name, downsample] of Object.entries(inGraph)) {
  row(name, await classify((start) => tf.tidy(() => downsample(imagesToTensor(large.slice(start, start + 32), ENSEMBLE_SIZE, record.preprocessing)))));
}
