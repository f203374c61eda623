// How the white-background path of the cell representation holds up on REAL foreign cells cut out onto
// white the way other labs might deliver them. Each BCCD cell (foreign stage, labelled by eye) is cut out
// with its own mask, then delivered as: our canonical PNG; a tight crop touching the border; a tight crop
// on light grey instead of white; grey with a border and JPEG; a tight crop rescaled 0.4–1.6× and JPEG.
// Each goes through the model's own path (canonical cell → normalisation → input size) and is classified.
// Prints one Markdown row per delivery: accuracy, which search the representation used, confusion.
//
//   node --import tsx bench/foreign-cutout-variants.ts [model folder]   (default: the ensemble of the default run)
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../stages/tf/backend.js';
import { loadModelFromDirectory } from '../stages/lib/classifier/model-directory.js';
import { imagesToTensor } from '../stages/lib/classifier/preprocessing.js';
import { locateTrainedModel } from '../stages/lib/classifier/train-record.js';
import { toCanonicalCell } from '../stages/lib/cell/cell-representation.js';
import { normalizeCell } from '../stages/lib/stain/normalize-cell.js';
import { mulberry32, uniform } from '../stages/lib/random.js';

const stagesDir = 'artifacts/stages';
const { modelDir, record } = locateTrainedModel(process.argv[2] ?? join(stagesDir, 'ensemble[arch=mobilenet_v1_0.25,mode=ensemble]'));
await initBackend({ prefer: 'auto' });
const model = await loadModelFromDirectory(modelDir);
const classes = record.classes;
const size = record.inputSize;
const items = JSON.parse(readFileSync(join(stagesDir, 'foreign', 'sets.json'), 'utf8')).items as { file: string; class: string }[];
const rng = mulberry32(7);

const WORK = 256;
interface Raster { data: Buffer; width: number; height: number }
/** The cell cropped to its mask's box, everything outside the mask set to `background`. */
function tightCrop(cell: Uint8Array, mask: Uint8Array, background: number): Raster {
  let x0 = WORK, y0 = WORK, x1 = -1, y1 = -1;
  for (let y = 0; y < WORK; y++) for (let x = 0; x < WORK; x++) if (mask[y * WORK + x]) (x0 = Math.min(x0, x)), (y0 = Math.min(y0, y)), (x1 = Math.max(x1, x)), (y1 = Math.max(y1, y));
  const width = x1 - x0 + 1, height = y1 - y0 + 1;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const i = (y + y0) * WORK + x + x0;
    for (let c = 0; c < 3; c++) data[3 * (y * width + x) + c] = mask[i] ? cell[3 * i + c]! : background;
  }
  return { data, width, height };
}
const raw = (r: Raster) => sharp(r.data, { raw: { width: r.width, height: r.height, channels: 3 } });

const deliveries: Record<string, (cell: Uint8Array, mask: Uint8Array) => Promise<Buffer>> = {
  'canonical PNG (10% white margin)': (cell) => raw({ data: Buffer.from(cell), width: WORK, height: WORK }).png().toBuffer(),
  'tight, cell touches the border': (cell, mask) => raw(tightCrop(cell, mask, 255)).png().toBuffer(),
  'tight, light grey (230) instead of white': (cell, mask) => raw(tightCrop(cell, mask, 230)).png().toBuffer(),
  'grey (225), 8 px border, JPEG 80': (cell, mask) =>
    raw(tightCrop(cell, mask, 225)).extend({ top: 8, bottom: 8, left: 8, right: 8, background: { r: 225, g: 225, b: 225 } }).jpeg({ quality: 80 }).toBuffer(),
  'tight, rescaled 0.4–1.6×, JPEG 75': (cell, mask) => {
    const t = tightCrop(cell, mask, 255);
    const f = uniform(rng, 0.4, 1.6);
    return raw(t).resize(Math.max(16, Math.round(t.width * f)), Math.max(16, Math.round(t.height * f))).jpeg({ quality: 75 }).toBuffer();
  },
};

const inputs = new Map<string, { rgb: Uint8Array; truth: string; route: string }[]>();
for (const item of items) {
  const cut = await toCanonicalCell(readFileSync(join(stagesDir, 'foreign', item.file)), { size: WORK, margin: 0.1 });
  for (const [name, deliver] of Object.entries(deliveries)) {
    const c = await toCanonicalCell(await deliver(cut.cell.data, cut.mask.data), record.cell ?? {});
    const normalized = record.normalization ? normalizeCell(c.cell.data, c.cell.width, c.cell.height, record.normalization) : c.cell.data;
    const rgb = new Uint8Array(await raw({ data: Buffer.from(normalized), width: c.cell.width, height: c.cell.height }).resize(size, size, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer());
    const list = inputs.get(name) ?? [];
    list.push({ rgb, truth: item.class, route: `${c.record.background}${c.status === 'ok' ? '' : ` ${c.status}`}` });
    inputs.set(name, list);
  }
}

console.log(`| delivery (n = ${items.length} BCCD cells) | accuracy | representation's search | confusion (rows true ${classes.map((c) => c.slice(0, 2)).join(', ')}) |`);
console.log('|---|---|---|---|');
for (const [name, list] of inputs) {
  const confusion = classes.map(() => classes.map(() => 0));
  for (let s = 0; s < list.length; s += 32) {
    const part = list.slice(s, s + 32);
    const x = imagesToTensor(part.map((p) => p.rgb), size, record.preprocessing);
    const y = model.predict(x) as tf.Tensor;
    const probabilities = (await y.array()) as number[][];
    tf.dispose([x, y]);
    part.forEach((p, i) => confusion[classes.indexOf(p.truth)]![probabilities[i]!.indexOf(Math.max(...probabilities[i]!))]!++);
  }
  const correct = confusion.reduce((s, row, i) => s + row[i]!, 0);
  const routes = new Map<string, number>();
  for (const p of list) routes.set(p.route, (routes.get(p.route) ?? 0) + 1);
  const routeText = [...routes].map(([r, n]) => `${r} ${n}`).join(', ');
  console.log(`| ${name} | ${((100 * correct) / list.length).toFixed(1)} | ${routeText} | \`${JSON.stringify(confusion)}\` |`);
}
