// Writes, in the features stage's layout, one vector per image that two or more features folders all have:
// their vectors end to end (a head on several backbones at once), for the leave-one-lab-out protocol:
//   node --import tsx bench/concatenated-features.ts /tmp/mn-r50 'artifacts/stages/features[arch=mobilenet_v1_0.25]' 'artifacts/stages/features[arch=resnet50]'
//   FEATURES_DIR=/tmp/mn-r50 node --import tsx bench/cross-lab-methods.ts '{"curve":[0],"seed":1}'
// FIRST_ONLY=1 writes only the first folder's vectors of those images: the baseline on the same cells and variants.
import fg from 'fast-glob';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FeaturesRecord } from '../stages/lib/records/features-record.js';

const [out, ...dirs] = process.argv.slice(2);
if (!out || dirs.length < 2) throw new Error('usage: concatenated-features.ts OUT_DIR FEATURES_DIR FEATURES_DIR…');
const records = dirs.map((d) => JSON.parse(readFileSync(join(d, 'features.json'), 'utf8')) as FeaturesRecord);
const present = dirs.map((d) => new Set(fg.sync('features/**/*.f32', { cwd: d })));
const files = [...present[0]!].filter((f) => present.every((s) => s.has(f))).sort();
const used = process.env.FIRST_ONLY === '1' ? dirs.slice(0, 1) : dirs;
let dim = 0;
for (const f of files) {
  const vector = Buffer.concat(used.map((d) => readFileSync(join(d, f))));
  dim = vector.byteLength / 4;
  mkdirSync(dirname(join(out, f)), { recursive: true });
  writeFileSync(join(out, f), vector);
}
// Only the variants every folder has a vector for (null: all of them).
const variants = records.map((r) => r.variants ?? Infinity).reduce((a, b) => Math.min(a, b));
const arch = records.slice(0, used.length).map((r) => r.arch).join('+');
writeFileSync(join(out, 'features.json'), JSON.stringify({ ...records[0]!, arch, dim, items: files.length, variants: Number.isFinite(variants) ? variants : null }, null, 2) + '\n');
console.log(`${files.length} vectors of ${dim} values (${arch}) in ${out}`);
