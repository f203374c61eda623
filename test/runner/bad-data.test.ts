// Bad data that used to pass: the real labs → segment → split → fingerprint → audit stages on a
// handful of images, through the CLI. An image filed under two classes must fail the audit; a cell
// segment could not find must not be trained on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { disposeAll, repo, Workspace } from './rig.js';

const CLASSES = ['EOSINOPHIL', 'LYMPHOCYTE'];
const fixture = (rel: string) => readFileSync(join(repo, 'test/study/fixtures/smoke-data', rel));

const pipeline = {
  vars: { labs: { lab: { root: 'data/lab', licence: 'CC BY 4.0 (PBC images)', labelledBy: 'experts' } } },
  stages: [
    { id: 'labs', module: 'stages/labs.ts', inputs: ['${vars.labs.*.root}/**/*'], params: { classes: CLASSES, labs: '${vars.labs}' }, outputs: ['images/**', 'labs.json'] },
    {
      id: 'segment', module: 'stages/segment.ts', perItem: true, deps: ['labs'], inputs: [{ from: 'labs', glob: 'images/**' }],
      params: { classes: CLASSES, size: 64, margin: 0.1, onFailure: 'keep', contactSheetCount: 0 },
      outputs: ['cells/**', 'masks/**', 'records/**', 'records.jsonl', 'contact-sheet*.jpg', 'summary.json'],
    },
    // Every group goes to train, so the blank image is in train.csv unless it is left out.
    { id: 'split', module: 'stages/split.ts', deps: ['labs', 'segment'], params: { seed: 1, fractions: { train: 1, val: 0, test: 0 }, augmentEvalSplits: false }, outputs: ['split.json', 'train.csv', 'val.csv', 'test.csv'] },
    { id: 'fingerprint', module: 'stages/fingerprint.ts', perItem: true, deps: ['labs'], inputs: [{ from: 'labs', glob: 'images/**' }], params: {}, outputs: ['fingerprints/**'] },
    {
      id: 'audit', module: 'stages/audit.ts', deps: ['labs', 'segment', 'split', 'fingerprint'], inputs: [{ from: 'labs', glob: 'images/**' }],
      params: { nearDuplicateBits: 4, allowCrossSplitDuplicates: false }, outputs: ['audit.json', 'audit.md'],
    },
  ],
};

/** A workspace running the repository's own stage modules on `images` (path under data/lab → bytes). */
function study(images: Record<string, Buffer>): Workspace {
  const ws = new Workspace({ 'pipeline.json': pipeline });
  symlinkSync(join(repo, 'stages'), ws.path('stages'));
  for (const [rel, bytes] of Object.entries(images)) {
    const target = ws.path(join('data/lab', rel));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes);
  }
  return ws;
}

const trainCsv = (ws: Workspace) => ws.read('artifacts/stages/split/train.csv');

test('an image filed under two classes (the same bytes) fails the audit, naming both files; allowConflictingLabels accepts it', async () => {
  const eo = fixture('EOSINOPHIL/EO_10690.jpg');
  const ws = study({ 'EOSINOPHIL/EO_10690.jpg': eo, 'LYMPHOCYTE/EO_10690.jpg': eo, 'LYMPHOCYTE/LY_100275.jpg': fixture('LYMPHOCYTE/LY_100275.jpg') });
  let r = await ws.pipe(['run', '--plain']);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /FAILED\s+audit[\s\S]*1 image\(s\) filed under two classes/);
  assert.match(r.stdout, /lab\/EOSINOPHIL\/EO_10690\.jpg \(EOSINOPHIL\) and lab\/LYMPHOCYTE\/EO_10690\.jpg \(LYMPHOCYTE\) are the same file/);
  assert.match(r.stdout, /audit\.allowConflictingLabels=true/);
  assert.is(ws.exists('artifacts/stages/audit'), false, 'nothing published');
  r = await ws.pipe(['run', '--plain', '--set', 'audit.allowConflictingLabels=true']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /\[audit\] 1 image\(s\) filed under two classes/);
  const audit = JSON.parse(ws.read('artifacts/stages/audit/audit.json'));
  assert.equal(audit.conflictingLabels.map((d: { a: string; b: string }) => [d.a, d.b]), [['lab/EOSINOPHIL/EO_10690.jpg', 'lab/LYMPHOCYTE/EO_10690.jpg']]);
});

test('a blank image (segment finds no cell, kept as a fallback) is not trained on by default; split.trainOnFallback puts it back', async () => {
  const blank = await sharp({ create: { width: 120, height: 120, channels: 3, background: '#ffffff' } }).png().toBuffer();
  const ws = study({ 'EOSINOPHIL/EO_10690.jpg': fixture('EOSINOPHIL/EO_10690.jpg'), 'LYMPHOCYTE/LY_100275.jpg': fixture('LYMPHOCYTE/LY_100275.jpg'), 'LYMPHOCYTE/blank.png': blank });
  let r = await ws.pipe(['run', '--plain']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const records = ws.read('artifacts/stages/segment/records.jsonl').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { file: string; status: string });
  assert.is(records.find((x) => x.file.endsWith('blank.png'))?.status, 'fallback', 'the blank image is a fallback cell');
  assert.not.match(trainCsv(ws), /blank/);
  assert.match(trainCsv(ws), /EO_10690/);
  const split = JSON.parse(ws.read('artifacts/stages/split/split.json'));
  assert.equal(split.excluded.map((e: { file: string; status: string }) => [e.file, e.status]), [['images/lab/LYMPHOCYTE/blank.png', 'fallback']]);
  assert.match(split.excluded[0].reason, /not trained on \(split\.trainOnFallback is false\)/);
  assert.match(r.stderr, /1 fallback cell\(s\) \(segment found no cell\) left out of train: images\/lab\/LYMPHOCYTE\/blank\.png/);
  r = await ws.pipe(['run', '--plain', '--set', 'split.trainOnFallback=true']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(trainCsv(ws), /segment\/cells\/lab\/LYMPHOCYTE\/blank\.png/);
});

test.after(disposeAll);
test.run();
