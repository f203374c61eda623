// The cached features of every cell under one transform, in the features stage's layout, for the
// leave-one-lab-out protocol (then: FEATURES_DIR=OUT bench/cross-lab-methods.ts):
//   TRANSFORM=group-norm GROUP_SIZES='[32,64,128,256]'  each vector standardised by its own mean and spread within
//                       each group of consecutive values (a GroupNorm without scale and shift, before the
//                       head's BatchNormalization; one group of all values is a LayerNorm)
//   TRANSFORM=levels GROUP_SIZES='[32,64,128,256]' LEVELS=2  only the deepest LEVELS tapped layers' pools (the
//                       groups are the taps' widths, shallowest first), as `features.levels` would compute them
//   TRANSFORM=morphometry  fourteen shape and colour-contrast measurements of each cell appended
//                       (bench/lib/morphometry.ts); MORPHOMETRY_ONLY=1 keeps only them
// ARCH picks the backbone's features (default mobilenet_v1_0.25); it reads the last `npx pipe run`'s split,
// cells and features as they are.
//   TRANSFORM=morphometry node --import tsx bench/cross-lab-feature-transforms.ts /tmp/features-morphometry
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readImageRgb } from '../stages/lib/classifier/read-image.js';
import { readSplitCsv, splitCsvPath, SPLITS } from '../stages/lib/records/split-csv.js';
import { featureVectorPath, type FeaturesRecord } from '../stages/lib/records/features-record.js';
import { morphometry, MORPHOMETRY_NAMES } from './lib/morphometry.js';

const ws = process.cwd();
const out = process.argv[2];
const transform = process.env.TRANSFORM;
if (!out || (transform !== 'group-norm' && transform !== 'levels' && transform !== 'morphometry')) {
  throw new Error('usage: TRANSFORM=group-norm|levels|morphometry cross-lab-feature-transforms.ts OUT_DIR');
}
const arch = process.env.ARCH ?? 'mobilenet_v1_0.25';
const featuresDir = join(ws, `artifacts/stages/features[arch=${arch}]`);
const record = JSON.parse(readFileSync(join(featuresDir, 'features.json'), 'utf8')) as FeaturesRecord;
const dim = record.dim!;
const groups = process.env.GROUP_SIZES ? (JSON.parse(process.env.GROUP_SIZES) as number[]) : [dim];
if (transform !== 'morphometry' && groups.reduce((a, b) => a + b, 0) !== dim) throw new Error(`GROUP_SIZES must add up to the features' ${dim} values`);
const levels = Number(process.env.LEVELS ?? groups.length);
if (transform === 'levels' && !(Number.isInteger(levels) && levels >= 1 && levels <= groups.length)) throw new Error(`LEVELS must be 1–${groups.length}`);
// The deepest taps come last in the vector.
const keptFrom = groups.slice(0, groups.length - levels).reduce((a, b) => a + b, 0);
const only = process.env.MORPHOMETRY_ONLY === '1';
const splitDir = join(ws, 'artifacts/stages/split');
const rows = SPLITS.flatMap((s) => readSplitCsv(splitCsvPath(splitDir, s))).filter((r) => existsSync(join(featuresDir, featureVectorPath(r.file))));
const imagePath = (file: string) => join(ws, 'artifacts/stages', file.slice(0, file.indexOf('/')), file.slice(file.indexOf('/') + 1));

function groupNormalized(v: Float32Array): Float32Array {
  const outV = new Float32Array(v.length);
  let start = 0;
  for (const size of groups) {
    let mean = 0, variance = 0;
    for (let i = start; i < start + size; i++) mean += v[i]! / size;
    for (let i = start; i < start + size; i++) variance += (v[i]! - mean) ** 2 / size;
    const spread = Math.sqrt(variance + 1e-6);
    for (let i = start; i < start + size; i++) outV[i] = (v[i]! - mean) / spread;
    start += size;
  }
  return outV;
}

let outDim = 0;
const t0 = performance.now();
for (const r of rows) {
  const bytes = readFileSync(join(featuresDir, featureVectorPath(r.file)));
  const v = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  let result: Float32Array;
  if (transform === 'group-norm') result = groupNormalized(v);
  else if (transform === 'levels') result = v.slice(keptFrom);
  else {
    const m = morphometry(await readImageRgb(imagePath(r.file), record.inputSize), record.inputSize);
    result = new Float32Array((only ? 0 : v.length) + m.length);
    if (!only) result.set(v);
    result.set(m, only ? 0 : v.length);
  }
  outDim = result.length;
  const path = join(out, featureVectorPath(r.file));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, new Uint8Array(result.buffer, result.byteOffset, result.byteLength));
}
writeFileSync(join(out, 'features.json'), JSON.stringify({ ...record, dim: outDim }, null, 2) + '\n');
writeFileSync(join(out, 'feature-transform.json'), JSON.stringify({ arch, transform, groups: transform === 'morphometry' ? null : groups, levels: transform === 'levels' ? levels : null, morphometry: transform === 'morphometry' ? MORPHOMETRY_NAMES : null, only }, null, 2) + '\n');
console.log(`${rows.length} vectors of ${outDim} values in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
