import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StageError } from '../../pipeline/stage-api.js';
import augment, { drawVariant, type AugmentParams } from '../../stages/augment.js';
import audit from '../../stages/audit.js';
import fingerprint from '../../stages/fingerprint.js';
import { fingerprintPath } from '../../stages/lib/records/fingerprint.js';
import { encodePng } from '../../stages/lib/image/decode.js';
import { assignSplit, computeSplit, groupKey, type SplitParams } from '../../stages/split.js';
import type { SegmentRecord } from '../../stages/lib/records/segment-record.js';
import { inputFile, makeContext, runPerItem, tempDir } from './context.js';
import { pbcLike, rejection } from './synthetic.js';

const augParams: AugmentParams = { variants: 3, seed: 7, rotation: 20, widthShift: 0.1, heightShift: 0.1, shear: 0.2, horizontalFlip: true, verticalFlip: true, fill: 'white' };

async function cellsDir() {
  const ws = tempDir();
  mkdirSync(path.join(ws, 'cells/EOSINOPHIL'), { recursive: true });
  writeFileSync(path.join(ws, 'cells/EOSINOPHIL/a.png'), await encodePng(pbcLike(64, 64, 32, 32).image));
  return { ws, inputs: [inputFile(ws, path.join(ws, 'cells/EOSINOPHIL/a.png'), 'normalize')] };
}

test('augment: N variants + a record of the source; byte-identical on rerun; seed changes them', async () => {
  const { ws, inputs } = await cellsDir();
  const a = makeContext('augment', augParams, { workspace: ws, inputs });
  await runPerItem(augment, a);
  const b = makeContext('augment', augParams, { workspace: ws, inputs });
  await runPerItem(augment, b);
  const rec = JSON.parse(readFileSync(path.join(a.outDir, 'variants/EOSINOPHIL/a.json'), 'utf8'));
  assert.is(rec.source, 'cells/EOSINOPHIL/a.png');
  assert.is(rec.sourceSha256, inputs[0]!.hash);
  assert.equal(rec.variants.map((v: { file: string }) => v.file), [0, 1, 2].map((k) => `variants/EOSINOPHIL/a__v${k}.png`));
  for (const v of rec.variants) {
    assert.ok(readFileSync(path.join(a.outDir, v.file)).equals(readFileSync(path.join(b.outDir, v.file))));
    assert.ok(Math.abs(v.transform.rotation) <= 20 && Math.abs(v.transform.tx) <= 6.4 && Math.abs(v.transform.shear) <= 0.2);
  }
  const other = drawVariant({ ...augParams, seed: 8 }, inputs[0]!.hash, 0, 64, 64);
  assert.not.equal(other, rec.variants[0].transform);
  // Corners are white fill after any rotation (the cell is on white).
  const { decodeRgb } = await import('../../stages/lib/image/decode.js');
  const v0 = await decodeRgb(readFileSync(path.join(a.outDir, rec.variants[0].file)));
  assert.equal(Array.from(v0.data.subarray(0, 3)), [255, 255, 255]);
  // augment.json: every setting the variants were made with, for the report and for predict to make the same.
  assert.equal(JSON.parse(readFileSync(path.join(a.outDir, 'augment.json'), 'utf8')), { ...augParams, photometric: null, cytoplasmLoss: null });
});

function rec(file: string, cls: string, sha: string, status: SegmentRecord['status'] = 'ok'): SegmentRecord {
  const stem = path.basename(file).replace(/\.[^.]+$/, '');
  return { file, class: cls, lab: 'pbc', sha256: sha, status, reason: null, confidence: 1, cellArea: 1, nucleusArea: 1, bbox: null, scale: 1, sourceWidth: 1, sourceHeight: 1, cell: status === 'ok' ? `cells/${cls}/${stem}.png` : null, mask: null };
}
const splitParams: SplitParams = { seed: 1, fractions: { train: 0.8, val: 0.1, test: 0.1 }, augmentEvalSplits: false };

test('split: stable under curation, grouped by smear, variants only for train by default, excluded counted', () => {
  const records = Array.from({ length: 400 }, (_, i) => rec(`data/x/${i % 2 ? 'EOSINOPHIL' : 'LYMPHOCYTE'}/img${i}.jpg`, i % 2 ? 'EOSINOPHIL' : 'LYMPHOCYTE', `sha${i}`));
  records.push(rec('data/x/EOSINOPHIL/smearA__crop0.png', 'EOSINOPHIL', 'c0'), rec('data/x/LYMPHOCYTE/smearA__crop1.png', 'LYMPHOCYTE', 'c1'));
  records.push(rec('data/x/EOSINOPHIL/bad.jpg', 'EOSINOPHIL', 'bad', 'rejected'));
  const variants = new Map(records.map((r) => [`${r.class}/${path.basename(r.file).replace(/\.[^.]+$/, '')}`, { source: '', sourceStage: null, sourceSha256: r.sha256, class: r.class, seed: 1, variants: [{ file: `variants/${r.class}/v.png`, k: 0, transform: { rotation: 0, tx: 0, ty: 0, shear: 0, flipH: false, flipV: false }, photometricSeed: null, cytoplasmRim: null }] }]));
  const inputs = { records, variants, cellsStage: 'normalize', augmentStage: 'augment' };
  const full = computeSplit(inputs, splitParams);
  const where = (res: typeof full) => new Map(SPL.flatMap((s) => res.rows[s].filter((r) => r.file.startsWith('normalize/')).map((r) => [r.origin, s] as const)));
  const SPL = ['train', 'val', 'test'] as const;
  const before = where(full);
  // Remove 50 images and add 30 new ones: nobody else moves.
  const curated = computeSplit({ ...inputs, records: [...records.slice(50), ...Array.from({ length: 30 }, (_, i) => rec(`data/x/EOSINOPHIL/new${i}.jpg`, 'EOSINOPHIL', `new${i}`))] }, splitParams);
  for (const [origin, s] of where(curated)) if (before.has(origin)) assert.is(s, before.get(origin), origin);
  // Crops of one smear share a split; variants appear only in train.
  assert.is(before.get('data/x/EOSINOPHIL/smearA__crop0.png'), before.get('data/x/LYMPHOCYTE/smearA__crop1.png'));
  assert.is(groupKey(records[400]!, /^(.+)__crop\d+$/), 'image:smearA');
  assert.ok(full.rows.val.every((r) => r.file.startsWith('normalize/')) && full.rows.test.every((r) => r.file.startsWith('normalize/')));
  assert.ok(full.rows.train.some((r) => r.file.startsWith('augment/')));
  assert.equal(full.excluded.map((e) => e.file), ['data/x/EOSINOPHIL/bad.jpg']);
  // Fractions roughly respected per class (binomial; 200 per class).
  for (const cls of ['EOSINOPHIL', 'LYMPHOCYTE']) {
    const n = full.counts.train[cls]!.originals;
    assert.ok(n > 140 && n < 185, `${cls} train ${n}`);
  }
  const withEval = computeSplit(inputs, { ...splitParams, augmentEvalSplits: true });
  assert.ok(withEval.rows.test.some((r) => r.file.startsWith('augment/')));
  assert.is(assignSplit('g', 1, { train: 0, val: 0, test: 1 }), 'test');
});

async function leakyFixture() {
  // The original study's flaw: validation and test shared images. Here one image appears twice under
  // two names (re-saved copy), and the split CSVs put one in val and the other in test.
  const ws = tempDir();
  const root = path.join(ws, 'ds');
  const sharp = (await import('sharp')).default;
  const img = await sharp(await encodePng(pbcLike(120, 120, 60, 60).image)).jpeg({ quality: 95 }).toBuffer();
  const other = await sharp(await encodePng(pbcLike(120, 120, 30, 80).image)).flop().jpeg({ quality: 95 }).toBuffer();
  mkdirSync(path.join(root, 'EOSINOPHIL'), { recursive: true });
  writeFileSync(path.join(root, 'EOSINOPHIL/val_copy.jpg'), img);
  writeFileSync(path.join(root, 'EOSINOPHIL/test_copy.jpg'), await sharp(img).jpeg({ quality: 80 }).toBuffer());
  writeFileSync(path.join(root, 'EOSINOPHIL/other.jpg'), other);
  writeFileSync(path.join(root, 'EOSINOPHIL/notes.txt'), 'not an image');
  writeFileSync(path.join(root, 'manifest.csv'), 'file,class\n');
  const splitDir = path.join(ws, 'split-out');
  mkdirSync(splitDir);
  const header = 'file,class,lab,group,origin\n';
  writeFileSync(path.join(splitDir, 'train.csv'), header + 'normalize/cells/EOSINOPHIL/other.png,EOSINOPHIL,pbc,g3,ds/EOSINOPHIL/other.jpg\n');
  writeFileSync(path.join(splitDir, 'val.csv'), header + 'normalize/cells/EOSINOPHIL/val_copy.png,EOSINOPHIL,pbc,g1,ds/EOSINOPHIL/val_copy.jpg\n');
  writeFileSync(path.join(splitDir, 'test.csv'), header + 'normalize/cells/EOSINOPHIL/test_copy.png,EOSINOPHIL,pbc,g2,ds/EOSINOPHIL/test_copy.jpg\n');
  const inputs = ['EOSINOPHIL/val_copy.jpg', 'EOSINOPHIL/test_copy.jpg', 'EOSINOPHIL/other.jpg', 'EOSINOPHIL/notes.txt', 'manifest.csv'].map((f) => inputFile(ws, path.join(root, f)));
  const deps = [{ instanceId: 'split', stageId: 'split', matrix: {}, dir: splitDir, name: 'split', key: 'test-key', created: null, seconds: null }];
  return { ws, inputs, deps };
}

test('audit fails on the study flaw (val and test share an image), naming both files', async () => {
  const { ws, inputs, deps } = await leakyFixture();
  const ctx = makeContext('audit', { dataRoot: 'ds', nearDuplicateBits: 4, allowCrossSplitDuplicates: false, classes: ['EOSINOPHIL', 'NEUTROPHIL'] }, { workspace: ws, inputs, deps });
  const err = await rejection(() => audit.run(ctx));
  assert.instance(err, StageError);
  assert.match(err.message, /EOSINOPHIL\/test_copy\.jpg \(test\) and EOSINOPHIL\/val_copy\.jpg \(val\)|EOSINOPHIL\/val_copy\.jpg \(val\) and EOSINOPHIL\/test_copy\.jpg \(test\)/);
  assert.match(err.message, /allowCrossSplitDuplicates/);
});

test('audit with the override reports duplicates, non-images, balance and sizes', async () => {
  const { ws, inputs, deps } = await leakyFixture();
  const ctx = makeContext('audit', { dataRoot: 'ds', nearDuplicateBits: 4, allowCrossSplitDuplicates: true, classes: ['EOSINOPHIL', 'NEUTROPHIL'] }, { workspace: ws, inputs, deps });
  await audit.run(ctx);
  const r = JSON.parse(readFileSync(path.join(ctx.outDir, 'audit.json'), 'utf8'));
  assert.is(r.images, 3);
  assert.is(r.crossSplitDuplicates.length, 1);
  assert.is(r.crossSplitDuplicates[0].kind, 'near');
  assert.equal(r.notImages.map((f: { file: string }) => f.file), ['EOSINOPHIL/notes.txt']);
  assert.equal(r.emptyClasses, ['NEUTROPHIL']);
  assert.equal(r.classBalance, { EOSINOPHIL: 3, NEUTROPHIL: 0 });
  assert.equal(r.sizes.EOSINOPHIL.max, [120, 120]);
  assert.match(readFileSync(path.join(ctx.outDir, 'audit.md'), 'utf8'), /CROSS-SPLIT/);
  assert.ok(ctx.warnings.length > 0);
});

test('audit: an exact copy under another name is an exact duplicate', async () => {
  const { ws, inputs, deps } = await leakyFixture();
  const src = inputs[0]!;
  writeFileSync(path.join(ws, 'ds/EOSINOPHIL/same.jpg'), readFileSync(src.path));
  const all = [...inputs, inputFile(ws, path.join(ws, 'ds/EOSINOPHIL/same.jpg'))];
  const ctx = makeContext('audit', { dataRoot: 'ds', nearDuplicateBits: 4, allowCrossSplitDuplicates: true }, { workspace: ws, inputs: all, deps });
  await audit.run(ctx);
  const r = JSON.parse(readFileSync(path.join(ctx.outDir, 'audit.json'), 'utf8'));
  assert.ok(r.duplicates.some((d: { kind: string; a: string; b: string }) => d.kind === 'exact' && [d.a, d.b].sort().join() === 'EOSINOPHIL/same.jpg,EOSINOPHIL/val_copy.jpg'));
});

test('audit with a fingerprint dep: the same result, reading cached prints for the files whose content they match', async () => {
  const { ws, inputs, deps } = await leakyFixture();
  const params = { dataRoot: 'ds', nearDuplicateBits: 4, allowCrossSplitDuplicates: true, classes: ['EOSINOPHIL', 'NEUTROPHIL'] };
  const plain = makeContext('audit', params, { workspace: ws, inputs, deps });
  await audit.run(plain);
  const prints = makeContext('fingerprint', { dataRoot: 'ds' }, { workspace: ws, inputs });
  const outputs = await runPerItem(fingerprint, prints);
  assert.equal(outputs.map((o) => o.files), inputs.map((f) => [fingerprintPath(f.rel)]));
  const cached = makeContext('audit', params, { workspace: ws, inputs, deps: [...deps, { instanceId: 'fingerprint', stageId: 'fingerprint', matrix: {}, dir: prints.outDir, name: 'fingerprint', key: 'test-key', created: null, seconds: null }] });
  await audit.run(cached);
  const read = (dir: string) => readFileSync(path.join(dir, 'audit.json'), 'utf8');
  assert.is(read(cached.outDir), read(plain.outDir));
  assert.not.match(cached.warnings.join('\n'), /no current fingerprint/);

  // A print is used only for the content it was made from: a stale one is recomputed, not trusted.
  const other = inputs.find((f) => f.rel.endsWith('other.jpg'))!;
  const printFile = path.join(prints.outDir, fingerprintPath(other.rel));
  writeFileSync(printFile, JSON.stringify({ ...JSON.parse(readFileSync(printFile, 'utf8')), sha256: 'stale', phash: '0000000000000000' }));
  const stale = makeContext('audit', params, { workspace: ws, inputs, deps: cached.deps ? Object.values(cached.deps) : [] });
  await audit.run(stale);
  assert.is(read(stale.outDir), read(plain.outDir));
  assert.match(stale.warnings.join('\n'), /1 file\(s\) had no current fingerprint/);
});

test.run();
