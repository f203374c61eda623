// The MobileNet features of every cell again under one input or backbone variant, in the features stage's
// layout, for the leave-one-lab-out protocol (then: FEATURES_DIR=OUT bench/cross-lab-methods.ts):
//   ADABN=1 (default)  AdaBN of the frozen backbone per lab: every BatchNormalization takes the statistics of
//                      that lab's cells (training-mode batches, averaged), the training labs' as the held-out
//                      lab's; ADABN=0 keeps ImageNet's
//   BLUR=σ             a Gaussian low-pass (sharp's) of each 128 px cell and variant before the network
//   GRAY=1             luma only;  LEVELS=n  pool n resolutions instead of the features stage's
//   SIZE=n             the network's input n px instead of the features stage's
// It reads the published split, cells and variants as they are: run it on a workspace whose last
// `npx pipe run` had `--set normalize.blurSigma=0` to measure BLUR against no low-pass.
//   ADABN=0 BLUR=2 node --import tsx bench/cross-lab-feature-variants.ts /tmp/features-blur2
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
const withVector = rows.filter((r) => existsSync(join(featuresDir, featureVectorPath(r.file))));
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
const readCell = async (path: string, size: number): Promise<Uint8Array> => {
  let rgb = await readImageRgb(path, size);
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
  const { model } = await buildPooledBase(spec, inputSize, record.weights, { weightsDir: join(ws, `artifacts/stages/weights[arch=${arch}]`), seed: record.seed, levels: levels ?? record.levels });
  const mine = withVector.filter((r) => r.lab === lab);
  const originals = mine.filter((r) => r.file.startsWith(`${cellsFrom}/`));
  const source = labelledBatchSource(originals.map((r) => ({ path: imagePath(r.file), label: 0 })), batchSize, 2, async (chunk) =>
    imagesToTensor(await Promise.all(chunk.map((it) => readCell(it.path, inputSize))), inputSize, record.preprocessing),
  );
  const layers = adapt ? await recalibrateBatchNorm(model, source, { batches, seed: 1 }) : 0;
  for (let i = 0; i < mine.length; i += 32) {
    const chunk = mine.slice(i, i + 32);
    const images = await Promise.all(chunk.map((r) => readCell(imagePath(r.file), inputSize)));
    const x = imagesToTensor(images, inputSize, record.preprocessing);
    const y = model.predict(x) as tf.Tensor2D;
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
writeFileSync(join(out, 'feature-variant.json'), JSON.stringify({ arch, batchSize, batches, labs, adapt, blur, gray, levels, inputSize }, null, 2) + '\n');
