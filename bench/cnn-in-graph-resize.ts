// Could the small CNN (48 px, rescale) join the ensemble (128 px) by resizing inside the merged graph?
// Feeds the trained small CNN the 128 px inputs the MobileNet models see, downsampled in the graph
// (tfjs resizeBilinear with align-corners, with half-pixel centres, and after a Gaussian blur), and
// compares its answers per source with the lanczos 48 px input it was trained and evaluated on.
//
//   node --import tsx bench/cnn-in-graph-resize.ts
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../stages/tf/backend.js';
import { loadModelFromDirectory } from '../stages/lib/classifier/model-directory.js';
import { imagesToTensor } from '../stages/lib/classifier/preprocessing.js';
import { rawImageToInput } from '../stages/lib/classifier/raw-image-input.js';
import { readImageRgb } from '../stages/lib/classifier/read-image.js';
import { parseCsv } from '../stages/lib/classifier/split-table.js';
const A = 'artifacts/stages';
await initBackend({ prefer: 'auto' });
const dir = join(A, 'train[arch=small_cnn,mode=scratch]');
const rec = JSON.parse(readFileSync(join(dir, 'train.json'), 'utf8'));
const model = await loadModelFromDirectory(join(dir, 'model'));
const C = rec.classes as string[];
type It = { path: string; source: string; truth: string; raw: boolean };
const items: It[] = [];
const [h, ...rows] = parseCsv(readFileSync(join(A, 'split', 'test.csv'), 'utf8'));
for (const r of rows) { const f = r[0]!; const s = f.indexOf('/'); items.push({ path: join(A, f.slice(0, s), f.slice(s + 1)), source: 'pbc', truth: r[1]!, raw: false }); }
for (const st of ['shifted', 'foreign']) for (const it of JSON.parse(readFileSync(join(A, st, 'sets.json'), 'utf8')).items) items.push({ path: join(A, st, it.file), source: it.source, truth: it.class, raw: true });
const big: Uint8Array[] = [];
for (const it of items) big.push(it.raw ? (await rawImageToInput(it.path, { cell: rec.cell, normalization: rec.normalization, size: 128 })).rgb : await readImageRgb(it.path, 128));
const small: Uint8Array[] = [];
for (const b of big) small.push(new Uint8Array(await sharp(Buffer.from(b), { raw: { width: 128, height: 128, channels: 3 } }).resize(48, 48, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer()));
console.error('loaded', items.length);
const gauss = (sigma: number, k: number) => { const r = (k - 1) / 2; const g = Array.from({ length: k }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma))); const s = g.reduce((a, b) => a + b); return g.map((v) => v / s); };
const schemes: Record<string, (x: tf.Tensor4D) => tf.Tensor4D> = {
  'bilinear-align': (x) => tf.image.resizeBilinear(x, [48, 48], true),
  'bilinear-half': (x) => tf.image.resizeBilinear(x, [48, 48], false, true),
  'blur1.0+bilinear': (x) => { const g = gauss(1.0, 5); const k = tf.tensor4d(Array.from({ length: 25 }, (_, i) => g[Math.floor(i / 5)]! * g[i % 5]!).flatMap((v) => [v, v, v]), [5, 5, 3, 1]); const padded = tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], 1); return tf.image.resizeBilinear(tf.depthwiseConv2d(padded, k, 1, 'valid'), [48, 48], false, true); },
  'blur1.2+bilinear': (x) => { const g = gauss(1.2, 7); const k = tf.tensor4d(Array.from({ length: 49 }, (_, i) => g[Math.floor(i / 7)]! * g[i % 7]!).flatMap((v) => [v, v, v]), [7, 7, 3, 1]); const padded = tf.pad(x, [[0, 0], [3, 3], [3, 3], [0, 0]], 1); return tf.image.resizeBilinear(tf.depthwiseConv2d(padded, k, 1, 'valid'), [48, 48], false, true); },
};
const predictAll = async (make: (s: number) => tf.Tensor4D) => { const out: number[][] = []; for (let s = 0; s < items.length; s += 32) { const x = make(s); const y = model.predict(x) as tf.Tensor; out.push(...((await y.array()) as number[][])); tf.dispose([x, y]); } return out; };
const ref = await predictAll((s) => imagesToTensor(small.slice(s, s + 32), 48, 'rescale'));
const score = (p: number[][], name: string) => {
  const by: Record<string, [number, number]> = {}; let agree = 0, dmax = 0;
  p.forEach((q, i) => { const k = q.indexOf(Math.max(...q)); const b = (by[items[i]!.source] ??= [0, 0]); b[0] += C[k] === items[i]!.truth ? 1 : 0; b[1]++; if (k === ref[i]!.indexOf(Math.max(...ref[i]!))) agree++; dmax = Math.max(dmax, ...q.map((v, c) => Math.abs(v - ref[i]![c]!))); });
  console.log(name, Object.entries(by).map(([s, [o, n]]) => `${s} ${(100 * o / n).toFixed(1)}`).join('  '), `agree ${(100 * agree / p.length).toFixed(1)} maxdiff ${dmax.toFixed(3)}`);
};
score(ref, 'lanczos(ref)');
for (const [name, f] of Object.entries(schemes)) score(await predictAll((s) => tf.tidy(() => f(imagesToTensor(big.slice(s, s + 32), 128, 'rescale')))), name);
