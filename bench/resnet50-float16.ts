// Makes the float16 copy of the ResNet50 ImageNet weights that data/weights ships, and measures what
// float16 costs against the float32 original in ../shared/weights/resnet50_imagenet:
//   - top-1 and the probabilities on the three ImageNet sample photos (224², with the ImageNet head);
//   - the pooled transfer features (128², the default 4-level pyramid and Keras's 1-level avg pool) on
//     PBC images, relative error per image ‖f16 − f32‖ / ‖f32‖ and the largest elementwise difference.
//
//   node --import tsx bench/resnet50-float16.ts            # convert (if needed) and measure
//   node --import tsx bench/resnet50-float16.ts --write    # rewrite the shipped copy even if present
//
// The copy keeps the upstream weight names (keras 2.2.4; resnet.ts maps them) and stores every kernel
// as float16 (batch-norm statistics and biases stay float32) with the TF.js manifest's `quantization: { dtype: 'float16' }`, which tfjs decodes itself.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../stages/tf/backend.js';
import { getArchitecture } from '../stages/models/registry.js';
import { kerasLegacyResNetName } from '../stages/models/resnet.js';
import { loadTfjsManifestWeights, readTfjsManifestWeights } from '../stages/models/tfjs-weights-manifest.js';
import { pooledPyramid, pyramidTapLayers } from '../stages/lib/classifier/feature-pyramid.js';
import { preprocess } from '../stages/models/preprocessing.js';

const repo = path.resolve(import.meta.dirname, '..');
const source = path.resolve(repo, '../shared/weights/resnet50_imagenet');
const target = path.join(repo, 'data/weights/resnet50_imagenet');
const SHARD_BYTES = 4 * 1024 * 1024;
// Kernels of the stem and the first stack stay float32 too (0.9% of the values): with them in float16 the
// pooled features drift 1.3e-3 relative, over the 1e-3 bar; `--keep-float32 REGEX` tries other choices.
const keepArg = process.argv.indexOf('--keep-float32');
const KEEP_FLOAT32 = new RegExp(keepArg > 0 ? process.argv[keepArg + 1]! : '^(conv1|res2)');

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of `value`, rounded to nearest, ties to even. */
function toFloat16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const rawExp = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (rawExp === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const exp = rawExp - 127 + 15;
  if (exp >= 0x1f) return sign | 0x7c00;
  const roundShift = (m: number, shift: number) => {
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && half & 1)) half++;
    return half;
  };
  if (exp <= 0) return exp < -10 ? sign : sign | roundShift(mantissa | 0x800000, 14 - exp);
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | ((exp << 10) + roundShift(mantissa, 13));
}

function writeFloat16Copy(): void {
  const manifest = JSON.parse(readFileSync(path.join(source, 'model.json'), 'utf8'));
  const entries: Array<{ name: string; shape: number[]; dtype: string }> = manifest.weightsManifest.flatMap(
    (g: { weights: unknown[] }) => g.weights,
  );
  const bytes = Buffer.concat(
    manifest.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map((p) => readFileSync(path.join(source, p)))),
  );
  const floats = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  // Kernels (all but 0.2% of the values) go to float16. Batch-norm statistics and biases stay float32:
  // moving variances reach past float16's largest value (65,504), and they are tiny anyway.
  const parts: Buffer[] = [];
  let offset = 0;
  const stored = entries.map((e) => {
    const count = e.shape.reduce((x, y) => x * y, 1);
    const values = floats.subarray(offset, offset + count);
    offset += count;
    const half = e.name.endsWith('/kernel') && !KEEP_FLOAT32.test(e.name.split('/')[0]!);
    if (half) {
      const halves = new Uint16Array(count);
      for (let i = 0; i < count; i++) halves[i] = toFloat16Bits(values[i]!);
      parts.push(Buffer.from(halves.buffer));
    } else parts.push(Buffer.from(values.slice().buffer));
    return { name: e.name, shape: e.shape, dtype: 'float32', ...(half ? { quantization: { dtype: 'float16' } } : {}) };
  });
  const out = Buffer.concat(parts);

  // SOURCE.md (hand-written) stays; the shards and manifest are rewritten.
  mkdirSync(target, { recursive: true });
  for (const f of readdirSync(target)) if (/^group\d+-shard|^model\.json$/.test(f)) rmSync(path.join(target, f));
  const shardCount = Math.ceil(out.length / SHARD_BYTES);
  const paths: string[] = [];
  for (let i = 0; i < shardCount; i++) {
    const name = `group1-shard${i + 1}of${shardCount}.bin`;
    writeFileSync(path.join(target, name), out.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES));
    paths.push(name);
  }
  const model = {
    format: 'layers-model',
    generatedBy: manifest.generatedBy,
    convertedBy: 'leukopipe bench/resnet50-float16.ts (float32 → float16, round to nearest even)',
    modelTopology: null,
    weightsManifest: [
      { paths, weights: stored },
    ],
  };
  writeFileSync(path.join(target, 'model.json'), JSON.stringify(model) + '\n');
  for (const file of ['LICENSE', 'imagenet-labels.json']) copyFileSync(path.join(source, file), path.join(target, file));
  const sums = readdirSync(target)
    .filter((f) => f !== 'SHA256SUMS' && f !== 'SOURCE.md')
    .sort()
    .map((f) => `${createHash('sha256').update(readFileSync(path.join(target, f))).digest('hex')}  ${f}`);
  writeFileSync(path.join(target, 'SHA256SUMS'), sums.join('\n') + '\n');
  console.log(`wrote ${target}: ${floats.length.toLocaleString()} values, ${out.length.toLocaleString()} bytes in ${shardCount} shards`);
}

async function photo(file: string, size: number): Promise<tf.Tensor4D> {
  const { data, info } = await sharp(file).removeAlpha().resize(size, size, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  return tf.tensor4d(Float32Array.from(data), [1, info.height, info.width, 3]);
}

if (!existsSync(path.join(source, 'model.json'))) {
  console.log(`no float32 original at ${source}: nothing to convert or compare against`);
  process.exit(0);
}
if (process.argv.includes('--write') || !existsSync(path.join(target, 'model.json'))) writeFloat16Copy();

await initBackend({ prefer: 'wasm', quiet: true });
const spec = await getArchitecture('resnet50');
const load = (model: tf.LayersModel, dir: string) => loadTfjsManifestWeights(model, dir, { strict: false, renameSaved: kerasLegacyResNetName });

// The weights themselves.
const [a, b] = await Promise.all([readTfjsManifestWeights(source), readTfjsManifestWeights(target)]);
let worstWeight = 0;
for (const [i, layer] of a.entries()) {
  for (const [j, w] of layer.weights.entries()) {
    const other = b[i]!.weights[j]!.values;
    w.values.forEach((v, k) => {
      if (Math.abs(v) > 6.1e-5) worstWeight = Math.max(worstWeight, Math.abs(other[k]! - v) / Math.abs(v));
    });
  }
}
console.log(`largest relative change of a weight (|w| above float16's normal range start): ${worstWeight.toExponential(2)}`);

// Sample photos through the ImageNet head.
const full32 = spec.build([224, 224, 3]);
const full16 = spec.build([224, 224, 3], { initialWeights: 'zeros' });
await load(full32, source);
await load(full16, target);
const labels = JSON.parse(readFileSync(path.join(source, 'imagenet-labels.json'), 'utf8')) as Record<string, string> | string[];
for (const name of ['eagle.jpg', 'dog.jpg', 'giraffe.jpg']) {
  const x = preprocess(await photo(path.join(repo, 'data/imagenet-samples', name), 224), spec.preprocessing);
  const [p32, p16] = [full32, full16].map((m) => (m.predict(x) as tf.Tensor).dataSync() as Float32Array);
  const top = (p: Float32Array) => p.indexOf(Math.max(...p));
  const maxDiff = p32!.reduce((m, v, k) => Math.max(m, Math.abs(v - p16![k]!)), 0);
  const t32 = top(p32!);
  const label = (Array.isArray(labels) ? labels[t32] : labels[String(t32)]) ?? '';
  console.log(`${name}: float32 top-1 ${t32} (${label}) p=${p32![t32]!.toFixed(4)} · float16 top-1 ${top(p16!)} p=${p16![top(p16!)]!.toFixed(4)} · max |Δp| ${maxDiff.toExponential(2)}`);
}
full32.dispose();
full16.dispose();

// Pooled transfer features on PBC images, as the features stage computes them (128², caffe preprocessing).
const images = readdirSync(path.join(repo, 'data/pbc_wbc4/NEUTROPHIL'))
  .slice(0, 8)
  .map((f) => path.join(repo, 'data/pbc_wbc4/NEUTROPHIL', f))
  .concat(readdirSync(path.join(repo, 'data/pbc_wbc4/LYMPHOCYTE')).slice(0, 8).map((f) => path.join(repo, 'data/pbc_wbc4/LYMPHOCYTE', f)));
for (const levels of [4, 1]) {
  const models = await Promise.all(
    [source, target].map(async (dir) => {
      const raw = spec.build([128, 128, 3], { includeTop: false, pooling: levels === 1 ? 'avg' : null });
      await load(raw, dir);
      return levels === 1 ? raw : pooledPyramid(raw, pyramidTapLayers(raw, levels));
    }),
  );
  let worstRelative = 0;
  let worstElement = 0;
  for (const file of images) {
    const x = preprocess(await photo(file, 128), spec.preprocessing);
    const [v32, v16] = models.map((m) => (m.predict(x) as tf.Tensor).dataSync() as Float32Array);
    let diff = 0;
    let norm = 0;
    let scale = 0;
    v32!.forEach((v, k) => {
      diff += (v - v16![k]!) ** 2;
      norm += v * v;
      scale = Math.max(scale, Math.abs(v));
    });
    worstRelative = Math.max(worstRelative, Math.sqrt(diff / norm));
    v32!.forEach((v, k) => (worstElement = Math.max(worstElement, Math.abs(v - v16![k]!) / scale)));
  }
  console.log(
    `features levels=${levels} (${images.length} PBC images, 128²): worst ‖f16 − f32‖/‖f32‖ = ${worstRelative.toExponential(2)}, ` +
      `worst elementwise |Δ| / max|f32| = ${worstElement.toExponential(2)}`,
  );
}
