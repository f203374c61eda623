// Cross-source robustness bench: what do stain normalisation and photometric augmentation buy on
// images that look like another lab's? A frozen MobileNet v1 α=0.25 (shipped ImageNet weights, GAP
// features at 128 px) + a softmax head trained on PBC canonical cells; accuracy on held-out PBC
// (same source) and on each simulated foreign source built from the same held-out originals.
//
//   nice node --import tsx bench/robustness.ts [--data data/pbc_wbc4] [--methods none,reinhard,macenko,grey-world]
//        [--augment off,on] [--variants 2] [--cache /tmp/leukopipe-robustness] [--json out.json]
//
// The canonical cells (cell-representation.ts) of every original and foreign image are cached under
// --cache/<hash of the code that makes them>, so reruns only pay for normalisation, features and the
// head, and a change to the segmenter or the foreign recipes starts a fresh cache.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import fg from 'fast-glob';
import * as tf from '@tensorflow/tfjs';
import { toCanonicalCell } from '../stages/lib/cell/cell-representation.js';
import { decodeRgb, encodePng } from '../stages/lib/image/decode.js';
import { applyPhotometric, type PhotometricParams } from '../stages/lib/shift/photometric.js';
import { fnv1aSeed } from '../stages/lib/random.js';
import { FOREIGN_SOURCES, makeForeignImage, type ForeignSource } from '../stages/lib/shift/simulated-source.js';
import { normalizeCell, type NormalizeMethod } from '../stages/lib/stain/normalize-cell.js';
import { getArchitecture } from '../stages/models/registry.js';
import { preprocess } from '../stages/models/preprocessing.js';
import { loadTfjsManifestWeights } from '../stages/models/tfjs-weights-manifest.js';
import { initBackend } from '../stages/tf/backend.js';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: 'data/pbc_wbc4' },
    methods: { type: 'string', default: 'none,reinhard,macenko,grey-world' },
    augment: { type: 'string', default: 'off,on' },
    variants: { type: 'string', default: '2' },
    cache: { type: 'string', default: '/tmp/leukopipe-robustness' },
    json: { type: 'string' },
    // 'code' (default): cache under a hash of the code that makes the cells; 'none': use --cache as is.
    'cache-key': { type: 'string', default: 'code' },
    testEvery: { type: 'string', default: '5' },
    // Keep 1 in trainEvery training originals (cheaper runs).
    trainEvery: { type: 'string', default: '1' },
  },
});

const CLASSES = ['EOSINOPHIL', 'LYMPHOCYTE', 'MONOCYTE', 'NEUTROPHIL'];
const SIZE = 128;
const SEED = 1;

/** The photometric augmentation measured as "on" (same shape as augment's `photometric` param). */
export const BENCH_PHOTOMETRIC: PhotometricParams = {
  stain: { sigma: 0.25, bias: 0.08 },
  colour: { brightness: 0.05, contrast: 0.15, saturation: 0.2, hue: 8, channelGain: 0.08 },
  gamma: { range: [0.8, 1.25] },
  scale: { range: [0.85, 1.15] },
  blur: { sigma: [0.3, 1.5], p: 0.5 },
  jpeg: { quality: [40, 95], p: 0.5 },
};

interface Cell {
  name: string;
  label: number;
  data: Uint8Array;
  status: string;
}

const started = Date.now();
const cacheKey = createHash('sha256');
for (const f of (await fg(['stages/lib/cell/cell-representation.ts', 'stages/lib/image/*.ts', 'stages/lib/stain/{color-spaces,cell-mask}.ts', 'stages/lib/shift/simulated-source.ts', 'stages/lib/shift/photometric.ts', 'stages/lib/random.ts'])).sort()) {
  cacheKey.update(f).update(await readFile(f));
}
const cacheDir = args['cache-key'] === 'none' ? args.cache! : path.join(args.cache!, cacheKey.digest('hex').slice(0, 12));
const log = (m: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${m}`);

// 1. Originals and a fixed split by name hash (1 in testEvery held out).
const files = (await fg(`${args.data}/*/*.{jpg,jpeg,png}`)).sort();
const testEvery = Number(args.testEvery);
const entries = files
  .map((f) => ({ file: f, cls: path.basename(path.dirname(f)), stem: path.basename(f, path.extname(f)) }))
  .filter((e) => CLASSES.includes(e.cls));
const isTest = (stem: string) => fnv1aSeed(stem, 99) % testEvery === 0;

// 2. Canonical cells, cached.
async function canonical(set: string, e: (typeof entries)[number], make: () => Promise<Uint8Array | null>): Promise<Cell | null> {
  const file = path.join(cacheDir, set, e.cls, `${e.stem}.png`);
  const meta = `${file}.json`;
  if (!existsSync(meta)) {
    const raw = await make();
    if (!raw) return null;
    const r = await toCanonicalCell(Buffer.from(raw));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, await encodePng(r.cell));
    await writeFile(meta, JSON.stringify({ status: r.record.status, reason: r.record.reason }));
  }
  const img = await decodeRgb(await readFile(file));
  const status = JSON.parse(await readFile(meta, 'utf8')).status as string;
  return { name: e.stem, label: CLASSES.indexOf(e.cls), data: img.data, status };
}

const sets: Record<string, Cell[]> = { train: [], 'pbc (same source)': [] };
for (const s of FOREIGN_SOURCES) sets[s] = [];
let done = 0;
const trainEvery = Number(args.trainEvery);
for (const e of entries) {
  const test = isTest(e.stem);
  if (!test && fnv1aSeed(e.stem, 7) % trainEvery !== 0) continue;
  const bytes = await readFile(e.file);
  const cell = await canonical('pbc', e, async () => bytes);
  if (cell) sets[test ? 'pbc (same source)' : 'train']!.push(cell);
  if (test) {
    for (const source of FOREIGN_SOURCES) {
      const c = await canonical(source, e, async () => {
        const original = await decodeRgb(bytes);
        const foreign = await makeForeignImage(source as ForeignSource, original, fnv1aSeed(`${source}/${e.file}`, SEED));
        return foreign ? new Uint8Array(await encodePng(foreign.image)) : null;
      });
      if (c) sets[source]!.push(c);
    }
  }
  if (++done % 200 === 0) log(`canonical cells: ${done}/${entries.length}`);
}
for (const [k, v] of Object.entries(sets)) {
  log(`${k}: ${v.length} cells, ${v.filter((c) => c.status !== 'ok').length} segmentation fallbacks`);
}

// 3. Frozen feature extractor.
await initBackend({ quiet: true });
const spec = await getArchitecture('mobilenet_v1_0.25');
const base = spec.build([SIZE, SIZE, 3], { includeTop: false, pooling: 'avg' });
await loadTfjsManifestWeights(base, 'data/weights/mobilenet_v1_0.25_224', { strict: false });

function features(images: Uint8Array[]): Float32Array {
  const dim = (base.outputs[0]!.shape[1] as number) ?? 256;
  const out = new Float32Array(images.length * dim);
  for (let i = 0; i < images.length; i += 64) {
    const batch = images.slice(i, i + 64);
    const f = tf.tidy(() => {
      const pixels = new Float32Array(batch.length * SIZE * SIZE * 3);
      batch.forEach((b, k) => pixels.set(b, k * SIZE * SIZE * 3));
      const x = tf.tensor4d(pixels, [batch.length, SIZE, SIZE, 3]);
      return base.predict(preprocess(x, spec.preprocessing)) as tf.Tensor;
    });
    out.set(f.dataSync(), i * dim);
    f.dispose();
  }
  return out;
}

// 4. Softmax head on standardised features (full-batch Adam, L2), fixed seed.
function trainHead(x: Float32Array, y: number[], dim: number) {
  const n = y.length;
  const mean = new Float32Array(dim);
  const std = new Float32Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d]! += x[i * dim + d]! / n;
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) std[d]! += (x[i * dim + d]! - mean[d]!) ** 2 / n;
  for (let d = 0; d < dim; d++) std[d] = Math.sqrt(std[d]!) + 1e-6;
  const norm = (v: Float32Array, m: number) => {
    const o = new Float32Array(v.length);
    for (let i = 0; i < m; i++) for (let d = 0; d < dim; d++) o[i * dim + d] = (v[i * dim + d]! - mean[d]!) / std[d]!;
    return o;
  };
  const w = tf.variable(tf.randomNormal([dim, CLASSES.length], 0, 0.01, 'float32', SEED));
  const b = tf.variable(tf.zeros([CLASSES.length]));
  const xs = tf.tensor2d(norm(x, n), [n, dim]);
  const ys = tf.oneHot(tf.tensor1d(y, 'int32'), CLASSES.length);
  const opt = tf.train.adam(0.01);
  for (let epoch = 0; epoch < 300; epoch++) {
    opt.minimize(() => tf.losses.softmaxCrossEntropy(ys, xs.matMul(w).add(b)).add(w.square().sum().mul(1e-3)) as tf.Scalar);
  }
  xs.dispose();
  ys.dispose();
  return (v: Float32Array, m: number): number[] =>
    tf.tidy(() => Array.from(tf.tensor2d(norm(v, m), [m, dim]).matMul(w).add(b).argMax(1).dataSync()));
}

// 5. Every configuration.
const methods = args.methods!.split(',') as NormalizeMethod[];
const augments = args.augment!.split(',');
const variants = Number(args.variants);
const evalSets = Object.keys(sets).filter((k) => k !== 'train');
const rows: { method: string; augment: string; acc: Record<string, number>; perClass: Record<string, number[]> }[] = [];
for (const method of methods) {
  const norm = (c: Cell) => normalizeCell(c.data, SIZE, SIZE, { method });
  const train = sets.train!.map((c) => ({ data: norm(c), label: c.label, name: c.name }));
  const trainFeatures = features(train.map((t) => t.data));
  const evalFeatures = Object.fromEntries(evalSets.map((s) => [s, features(sets[s]!.map(norm))]));
  log(`${method}: features done`);
  for (const augment of augments) {
    let x = trainFeatures;
    let y = train.map((t) => t.label);
    if (augment === 'on') {
      // Pipeline order: segment → normalize → augment, so variants are made from normalised cells.
      const extra: Uint8Array[] = [];
      const extraY: number[] = [];
      for (const t of train) {
        for (let k = 0; k < variants; k++) {
          extra.push(await applyPhotometric(t.data, SIZE, SIZE, BENCH_PHOTOMETRIC, fnv1aSeed(t.name, k + 1)));
          extraY.push(t.label);
        }
      }
      const xf = features(extra);
      const joined = new Float32Array(x.length + xf.length);
      joined.set(x);
      joined.set(xf, x.length);
      x = joined;
      y = [...y, ...extraY];
    }
    const dim = x.length / y.length;
    const predict = trainHead(x, y, dim);
    const acc: Record<string, number> = {};
    const perClass: Record<string, number[]> = {};
    for (const s of evalSets) {
      const cells = sets[s]!;
      const pred = predict(evalFeatures[s]!, cells.length);
      acc[s] = pred.filter((p, i) => p === cells[i]!.label).length / cells.length;
      perClass[s] = CLASSES.map((_, k) => {
        const idx = cells.map((c, i) => (c.label === k ? i : -1)).filter((i) => i >= 0);
        return idx.filter((i) => pred[i] === k).length / Math.max(1, idx.length);
      });
    }
    rows.push({ method, augment, acc, perClass });
    log(`${method} augment=${augment}: ${evalSets.map((s) => `${s} ${(100 * acc[s]!).toFixed(1)}%`).join(', ')}`);
  }
}

// 6. Table.
const pct = (v: number) => `${(100 * v).toFixed(1)}`;
console.log(`\nTrain ${sets.train!.length} PBC cells; each eval set from the same ${sets['pbc (same source)']!.length} held-out originals.`);
console.log(`| normalisation | photometric aug | ${evalSets.join(' | ')} |`);
console.log(`|---|---|${evalSets.map(() => '---:').join('|')}|`);
for (const r of rows) console.log(`| ${r.method} | ${r.augment} | ${evalSets.map((s) => pct(r.acc[s]!)).join(' | ')} |`);
for (const s of evalSets.filter((k) => k.startsWith('white-tight'))) {
  console.log(`\nPer-class recall (${CLASSES.join('/')}) on ${s}:`);
  for (const r of rows) console.log(`- ${r.method}, aug ${r.augment}: ${r.perClass[s]!.map(pct).join(' / ')}`);
}
if (args.json) await writeFile(args.json, JSON.stringify({ sizes: Object.fromEntries(Object.entries(sets).map(([k, v]) => [k, v.length])), rows }, null, 2));
log('done');
