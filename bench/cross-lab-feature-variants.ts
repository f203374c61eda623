// The MobileNet features of every cell again under one input or backbone variant, in the features stage's
// layout, for the leave-one-lab-out protocol (then: FEATURES_DIR=OUT bench/cross-lab-methods.ts):
//   ADABN=1 (default)  AdaBN of the frozen backbone per lab: every BatchNormalization takes the statistics of
//                      that lab's cells (training-mode batches, averaged), the training labs' as the held-out
//                      lab's; ADABN=0 keeps ImageNet's
//   BLUR=σ             a Gaussian low-pass (sharp's) of each 128 px cell and variant before the network
//   GRAY=1             luma only;  LEVELS=n  pool n resolutions instead of the features stage's
//   SIZE=n             the network's input n px instead of the features stage's
//   RELSIZE=γ          each cell drawn at (d / its lab's median d)^γ of its canonical size (d: segment's 1 / scale,
//                      the equivalent diameter in source px), on white or cropped, clamped to [0.6, 1.25]: size
//                      relative to the lab, which the canonical scale removes, back in the image
//   POOL=kind          how each tapped layer becomes a vector, instead of the global average: max, avgmax (both,
//                      concatenated), gem:p (generalised mean), masked (the average over the cell only: pixels not
//                      white in the network's input, the mask resized to the layer), std (average and spread)
// It reads the published split, cells and variants as they are: run it on a workspace whose last
// `npx pipe run` had `--set normalize.blurSigma=0` to measure BLUR against no low-pass.
//   ADABN=0 BLUR=2 node --import tsx bench/cross-lab-feature-variants.ts /tmp/features-blur2
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import fg from 'fast-glob';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getArchitecture } from '../stages/models/registry.js';
import { initBackend } from '../stages/tf/backend.js';
import { buildPooledBase } from '../stages/lib/classifier/base-model.js';
import { labelledBatchSource } from '../stages/lib/classifier/batch-source.js';
import { recalibrateBatchNorm } from '../stages/lib/classifier/batch-norm-recalibration.js';
import { imagesToTensor } from '../stages/lib/classifier/preprocessing.js';
import { readImageRgb } from '../stages/lib/classifier/read-image.js';
import { readSplitCsv, splitCsvPath, SPLITS } from '../stages/lib/records/split-csv.js';
import { featureVectorPath, type FeaturesRecord } from '../stages/lib/records/features-record.js';

const ws = process.cwd();
const out = process.argv[2];
if (!out) throw new Error('usage: cross-lab-feature-variants.ts OUT_DIR [ARCH]');
const arch = process.argv[3] ?? 'mobilenet_v1_0.25';
const featuresDir = join(ws, `artifacts/stages/features[arch=${arch}]`);
const record = JSON.parse(readFileSync(join(featuresDir, 'features.json'), 'utf8')) as FeaturesRecord;
const splitDir = join(ws, 'artifacts/stages/split');
const cellsFrom = (JSON.parse(readFileSync(join(splitDir, 'split.json'), 'utf8')) as { cellsFrom: string }).cellsFrom;
const rows = SPLITS.flatMap((s) => readSplitCsv(splitCsvPath(splitDir, s)));
// Every vector the features stage wrote, not only the split's rows: self-training reads the augmented variants
// of the held-out lab's val and test cells as views. Their lab is the path's third part (<stage>/<dir>/<lab>/…).
const vectorFiles = fg.sync('**/*.f32', { cwd: join(featuresDir, 'features') }).map((f) => f.slice(0, -'.f32'.length));
const withVector = vectorFiles.map((file) => ({ file, lab: file.split('/')[2]! }));
if (withVector.length < rows.length) throw new Error(`${featuresDir}: ${withVector.length} vectors for ${rows.length} split rows`);
const imagePath = (file: string) => {
  const slash = file.indexOf('/');
  return join(ws, 'artifacts/stages', file.slice(0, slash), file.slice(slash + 1));
};
const batches = Number(process.env.ADABN_BATCHES ?? 1e9);
const batchSize = Number(process.env.ADABN_BATCH_SIZE ?? 64);
// ADABN=0 keeps ImageNet's statistics (to measure BLUR alone); BLUR=σ low-passes every cell first.
const adapt = process.env.ADABN !== '0';
const blur = Number(process.env.BLUR ?? 0);
// GRAY=1 replaces each pixel by its luma (colour carries the lab's stain); LEVELS=n pools n resolutions.
const gray = process.env.GRAY === '1';
const levels = process.env.LEVELS ? Number(process.env.LEVELS) : null;
// SIZE=n feeds the network n px instead of the features stage's input size (the cell resized to it).
const size = process.env.SIZE ? Number(process.env.SIZE) : null;
const poolKind = process.env.POOL ?? 'avg';
const gem = /^gem:([0-9.]+)$/.exec(poolKind);
if (!['avg', 'max', 'avgmax', 'masked', 'std'].includes(poolKind) && !gem) throw new Error(`POOL must be avg, max, avgmax, gem:p, masked or std, got ${poolKind}`);
// One tapped layer's output [n, h, w, c] → [n, c'] under POOL; `images` (the network's raw RGB inputs) for masked only.
const poolLayer = (t: tf.Tensor4D, images: tf.Tensor4D | null): tf.Tensor2D =>
  tf.tidy(() => {
    const avg = tf.mean(t, [1, 2]) as tf.Tensor2D;
    if (poolKind === 'avg') return avg;
    if (poolKind === 'max') return tf.max(t, [1, 2]) as tf.Tensor2D;
    if (poolKind === 'avgmax') return tf.concat([avg, tf.max(t, [1, 2]) as tf.Tensor2D], 1);
    if (poolKind === 'std') return tf.concat([avg, tf.sqrt(tf.add(tf.moments(t, [1, 2]).variance, 1e-6)) as tf.Tensor2D], 1);
    if (gem) {
      const p = Number(gem[1]);
      return tf.pow(tf.add(tf.mean(tf.pow(tf.relu(t), p), [1, 2]), 1e-12), 1 / p) as tf.Tensor2D;
    }
    // masked: the cell is every pixel with a channel below the white threshold of normalize's backdrop
    const cell = tf.cast(tf.less(tf.min(images!, 3, true), 245), 'float32') as tf.Tensor4D;
    const m = tf.image.resizeBilinear(cell, [t.shape[1], t.shape[2]]);
    const weight = tf.add(tf.sum(m, [1, 2]), 1e-3) as tf.Tensor2D;
    return tf.div(tf.sum(tf.mul(t, m), [1, 2]), weight) as tf.Tensor2D;
  });
const relSize = process.env.RELSIZE ? Number(process.env.RELSIZE) : null;
// <lab>/<class>/<stem> → d, from segment's records; and each lab's median d.
const diameters = new Map<string, number>();
const medians = new Map<string, number>();
if (relSize !== null) {
  const byLab = new Map<string, number[]>();
  for (const f of fg.sync('records/*/*/*.json', { cwd: join(ws, 'artifacts/stages/segment') })) {
    const r = JSON.parse(readFileSync(join(ws, 'artifacts/stages/segment', f), 'utf8')) as { scale?: number; lab: string };
    if (!r.scale) continue;
    diameters.set(f.slice('records/'.length, -'.json'.length), 1 / r.scale);
    byLab.set(r.lab, [...(byLab.get(r.lab) ?? []), 1 / r.scale]);
  }
  for (const [lab, v] of byLab) medians.set(lab, v.sort((a, b) => a - b)[Math.floor(v.length / 2)]!);
}
const relativeFactor = (path: string): number => {
  const parts = path.split('/');
  const [lab, cls, name] = parts.slice(-3) as [string, string, string];
  const d = diameters.get(`${lab}/${cls}/${name.replace(/\.png$/, '').replace(/__v\d+$/, '')}`);
  if (d === undefined) throw new Error(`${path}: no segment record`);
  return Math.min(1.25, Math.max(0.6, (d / medians.get(lab)!) ** relSize!));
};
const readCell = async (path: string, size: number): Promise<Uint8Array> => {
  let rgb = await readImageRgb(path, size);
  if (relSize !== null) {
    const f = relativeFactor(path);
    const side = Math.max(8, Math.round(size * f));
    const scaled = await sharp(rgb, { raw: { width: size, height: size, channels: 3 } }).resize(side, side, { kernel: 'lanczos3' }).raw().toBuffer();
    const pad = Math.floor((size - side) / 2);
    const out = await (side <= size
      ? sharp(scaled, { raw: { width: side, height: side, channels: 3 } }).extend({ top: pad, left: pad, bottom: size - side - pad, right: size - side - pad, background: '#ffffff' })
      : sharp(scaled, { raw: { width: side, height: side, channels: 3 } }).extract({ left: -pad, top: -pad, width: size, height: size })
    ).raw().toBuffer();
    rgb = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  if (gray) {
    rgb = Uint8Array.from(rgb);
    for (let i = 0; i < rgb.length; i += 3) rgb[i] = rgb[i + 1] = rgb[i + 2] = Math.round(0.299 * rgb[i]! + 0.587 * rgb[i + 1]! + 0.114 * rgb[i + 2]!);
  }
  if (blur <= 0) return rgb;
  const { data } = await sharp(rgb, { raw: { width: size, height: size, channels: 3 } }).blur(blur).raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
};

await initBackend({ prefer: 'auto', quiet: true });
const spec = await getArchitecture(arch);
const inputSize = size ?? record.inputSize;
const labs = [...new Set(withVector.map((r) => r.lab))].sort();
mkdirSync(out, { recursive: true });
for (const lab of labs) {
  const t0 = performance.now();
  const { model, taps } = await buildPooledBase(spec, inputSize, record.weights, { weightsDir: join(ws, `artifacts/stages/weights[arch=${arch}]`), seed: record.seed, levels: levels ?? record.levels });
  const mine = withVector.filter((r) => r.lab === lab);
  const originals = mine.filter((r) => r.file.startsWith(`${cellsFrom}/`));
  const source = labelledBatchSource(originals.map((r) => ({ path: imagePath(r.file), label: 0 })), batchSize, 2, async (chunk) =>
    imagesToTensor(await Promise.all(chunk.map((it) => readCell(it.path, inputSize))), inputSize, record.preprocessing),
  );
  const layers = adapt ? await recalibrateBatchNorm(model, source, { batches, seed: 1 }) : 0;
  const tapModel = poolKind === 'avg' ? null : tf.model({ inputs: model.inputs, outputs: taps.map((n) => model.getLayer(n).output as tf.SymbolicTensor) });
  for (let i = 0; i < mine.length; i += 32) {
    const chunk = mine.slice(i, i + 32);
    const images = await Promise.all(chunk.map((r) => readCell(imagePath(r.file), inputSize)));
    const x = imagesToTensor(images, inputSize, record.preprocessing);
    const y = tapModel
      ? tf.tidy(() => {
          const outs = tapModel.predict(x) as tf.Tensor4D | tf.Tensor4D[];
          let raw: tf.Tensor4D | null = null;
          if (poolKind === 'masked') {
            const flat = new Float32Array(images.length * inputSize * inputSize * 3);
            images.forEach((im, j) => flat.set(im, j * im.length));
            raw = tf.tensor4d(flat, [images.length, inputSize, inputSize, 3]);
          }
          return tf.concat((Array.isArray(outs) ? outs : [outs]).map((o) => poolLayer(o, raw)), 1) as tf.Tensor2D;
        })
      : (model.predict(x) as tf.Tensor2D);
    const values = await y.data();
    const dim = y.shape[1];
    tf.dispose([x, y]);
    chunk.forEach((r, j) => {
      const path = join(out, featureVectorPath(r.file));
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, new Uint8Array(values.buffer, values.byteOffset + j * dim * 4, dim * 4));
    });
  }
  model.dispose();
  console.log(`${lab}: ${layers} BatchNormalization layers from ${originals.length} cells, ${mine.length} vectors, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
const dim = readFileSync(join(out, featureVectorPath(withVector[0]!.file))).byteLength / 4;
writeFileSync(join(out, 'features.json'), JSON.stringify({ ...record, dim, inputSize, levels: levels ?? record.levels }, null, 2) + '\n');
writeFileSync(join(out, 'feature-variant.json'), JSON.stringify({ arch, batchSize, batches, labs, adapt, blur, gray, levels, inputSize, pool: poolKind, relSize }, null, 2) + '\n');
