// Labs as first-class data: the labs stage (labels from class folders and from a CSV, sessions, clear
// errors), the runner's one-glob-per-lab inputs, split grouping by session and near duplicates, and the
// metrics and protocol pieces of the cross-lab study.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { interpolateGlobs } from '../../pipeline/config/interpolate.js';
import { StageError } from '../../pipeline/stage-api.js';
import labs from '../../stages/labs.js';
import { labelledCells, meanFigures } from '../../stages/cross-lab.js';
import type { LabsManifest } from '../../stages/lib/records/labs-manifest.js';
import { balancedAccuracy, confusionMatrix, perClassMetrics, sourceMetrics } from '../../stages/lib/metrics/evaluation-metrics.js';
import type { LabelledFile } from '../../stages/lib/classifier/split-table.js';
import { computeSplit, type SplitParams } from '../../stages/split.js';
import type { SegmentRecord } from '../../stages/lib/records/segment-record.js';
import { inputFile, makeContext, tempDir } from './context.js';
import { rejection } from './synthetic.js';
import { unitHash } from '../../stages/lib/random.js';

const CLASSES = ['EOSINOPHIL', 'NEUTROPHIL'];

function twoLabWorkspace() {
  const ws = tempDir();
  const write = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
    writeFileSync(path.join(ws, rel), text);
  };
  // Lab a: class folders (plus a licence at the root and a class the study does not have).
  write('a/EOSINOPHIL/x.jpg', 'a-eo');
  write('a/NEUTROPHIL/x.jpg', 'a-ne');
  write('a/BASOPHIL/y.jpg', 'a-ba');
  write('a/LICENSE', 'licence');
  // Lab b: files in sub-folders named by a CSV; sessions in the name.
  // One file in a sub-folder: its name in the layout joins the folders with `__`.
  write('b/S1_001.jpg', 'b1');
  write('b/S1_002.jpg', 'b2');
  write('b/raw/S2_001.jpg', 'b3');
  write('labels-b.csv', 'image_file,label\nS1_001.jpg,EOSINOPHIL\nS1_002.jpg,NEUTROPHIL\nraw/S2_001.jpg,NEUTROPHIL\n');
  const files = ['a/EOSINOPHIL/x.jpg', 'a/NEUTROPHIL/x.jpg', 'a/BASOPHIL/y.jpg', 'a/LICENSE', 'b/S1_001.jpg', 'b/S1_002.jpg', 'b/raw/S2_001.jpg', 'labels-b.csv'];
  const params = {
    classes: CLASSES,
    labs: {
      a: { root: 'a', licence: 'CC0', labelledBy: 'experts' },
      b: { root: 'b', licence: 'MIT', labelledBy: 'ours, by eye', labels: { from: 'csv' as const, csv: 'labels-b.csv', fileColumn: 'image_file', classColumn: 'label' }, sessions: '^([^_]+)_' },
    },
  };
  return { ws, params, inputs: files.map((f) => inputFile(ws, path.join(ws, f))) };
}

test('labs: class folders and a CSV become one layout images/<lab>/<CLASS>/<name>, with lab, origin and session', async () => {
  const { ws, params, inputs } = twoLabWorkspace();
  const ctx = makeContext('labs', params, { workspace: ws, inputs });
  await labs.run(ctx);
  const manifest = JSON.parse(readFileSync(path.join(ctx.outDir, 'labs.json'), 'utf8')) as LabsManifest;
  assert.equal(
    manifest.images.map((i) => [i.file, i.lab, i.class, i.origin, i.session]),
    [
      ['images/a/EOSINOPHIL/x.jpg', 'a', 'EOSINOPHIL', 'a/EOSINOPHIL/x.jpg', null],
      ['images/a/NEUTROPHIL/x.jpg', 'a', 'NEUTROPHIL', 'a/NEUTROPHIL/x.jpg', null],
      ['images/b/EOSINOPHIL/S1_001.jpg', 'b', 'EOSINOPHIL', 'b/S1_001.jpg', 'b/S1'],
      ['images/b/NEUTROPHIL/S1_002.jpg', 'b', 'NEUTROPHIL', 'b/S1_002.jpg', 'b/S1'],
      ['images/b/NEUTROPHIL/raw__S2_001.jpg', 'b', 'NEUTROPHIL', 'b/raw/S2_001.jpg', 'b/S2'],
    ],
  );
  assert.is(readFileSync(path.join(ctx.outDir, 'images/b/NEUTROPHIL/raw__S2_001.jpg'), 'utf8'), 'b3');
  // `sessions` matches the original file's own name (raw/S2_001.jpg → S2), not its layout name raw__S2_001.
  assert.equal(manifest.labs.map((l) => [l.name, l.images, l.labelledBy, l.labels, l.sessionCount]), [
    ['a', 2, 'experts', 'folders', null],
    ['b', 3, 'ours, by eye', 'csv', 2],
  ]);
});

test('labs: a CSV naming a missing file, or a CSV outside the inputs, fails naming the row or the field', async () => {
  const { ws, params, inputs } = twoLabWorkspace();
  writeFileSync(path.join(ws, 'labels-b.csv'), 'image_file,label\nraw/S9_009.jpg,EOSINOPHIL\n');
  const err = await rejection(() => labs.run(makeContext('labs', params, { workspace: ws, inputs })));
  assert.instance(err, StageError);
  assert.match(String((err as StageError).subject ?? ''), /labels-b\.csv row 2/);
  const noCsv = await rejection(() => labs.run(makeContext('labs', params, { workspace: ws, inputs: inputs.filter((f) => !f.rel.endsWith('.csv')) })));
  assert.match((noCsv as Error).message, /not among the labs stage's inputs/);
});

test('runner: an input glob with ${vars.labs.*.root} is one glob per declared lab; labs without the field add none', () => {
  const vars = { labs: { a: { root: 'data/a', labels: { csv: 'a.csv' } }, b: { root: 'x/b' } } };
  assert.equal(interpolateGlobs('${vars.labs.*.root}/**/*', { vars }), ['data/a/**/*', 'x/b/**/*']);
  assert.equal(interpolateGlobs('${vars.labs.*.labels.csv}', { vars }), ['a.csv']);
  assert.equal(interpolateGlobs('data/plain/*.jpg', { vars }), ['data/plain/*.jpg']);
});

function rec(file: string, lab: string, cls: string, sha: string): SegmentRecord {
  const stem = path.basename(file).replace(/\.[^.]+$/, '');
  return { file, class: cls, lab, sha256: sha, status: 'ok', reason: null, confidence: 1, cellArea: 1, nucleusArea: 1, bbox: null, scale: 1, sourceWidth: 1, sourceHeight: 1, cell: `cells/${lab}/${cls}/${stem}.png`, mask: null };
}

test('split: one session never crosses splits; near-duplicate twins share a split; rows carry their lab', () => {
  const records = Array.from({ length: 60 }, (_, i) => rec(`images/b/NEUTROPHIL/S${i % 3}_${i}.jpg`, 'b', 'NEUTROPHIL', `s${i}`));
  const sessions = new Map(records.map((r) => [r.file, `b/S${r.file.split('/S')[1]!.split('_')[0]}`] as const));
  const params: SplitParams = { seed: 1, fractions: { train: 0.5, val: 0.25, test: 0.25 }, augmentEvalSplits: false, nearDuplicateBits: 4 };
  const twins = Array.from({ length: 40 }, (_, i) => rec(`images/a/EOSINOPHIL/t${i}.jpg`, 'a', 'EOSINOPHIL', `t${i}`));
  // Pairs (t0,t1), (t2,t3), … are within 2 bits of each other; different pairs are far apart.
  const pairHash = (p: number) => Array.from({ length: 16 }, (_, k) => ((Math.imul(p + 1, 2654435761) >>> (k % 8) * 4) ^ (k * 7 + p * 13)) & 15).map((d) => d.toString(16)).join('');
  const flip2 = (hex: string) => (parseInt(hex[0]!, 16) ^ 3).toString(16) + hex.slice(1);
  const phashes = new Map(twins.map((r, i) => [r.file, i % 2 ? flip2(pairHash(Math.floor(i / 2))) : pairHash(Math.floor(i / 2))] as const));
  const result = computeSplit({ records: [...records, ...twins], variants: new Map(), cellsStage: 'normalize', augmentStage: null, labsStage: 'labs', sessions, phashes }, params);
  const splitOf = new Map((['train', 'val', 'test'] as const).flatMap((s) => result.rows[s].map((r) => [r.origin, s] as const)));
  for (const session of ['S0', 'S1', 'S2']) {
    const seen = new Set(records.filter((r) => r.file.includes(`/${session}_`)).map((r) => splitOf.get(`labs/${r.file}`)));
    assert.is(seen.size, 1, `session ${session} in one split`);
  }
  for (let i = 0; i < 40; i += 2) assert.is(splitOf.get(`labs/${twins[i]!.file}`), splitOf.get(`labs/${twins[i + 1]!.file}`), `twins t${i}, t${i + 1}`);
  assert.ok(new Set(twins.map((t) => splitOf.get(`labs/${t.file}`))).size > 1, 'pairs still spread over splits');
  assert.ok(result.rows.train.every((r) => r.lab === (r.file.includes('/a/') ? 'a' : 'b')));
});

test('balanced accuracy: the mean recall over classes present; a majority-class guesser scores 1/k', () => {
  const preds = [...Array(9).fill(['NEUTROPHIL', 'NEUTROPHIL']), ['EOSINOPHIL', 'NEUTROPHIL']].map(([t, p]) => ({ path: 'x', source: 'lab', trueClass: t as string, predictedClass: p as string }));
  const m = sourceMetrics('lab', preds, { classes: CLASSES, resamples: 10, seed: 1 });
  assert.is(m.accuracy, 0.9);
  assert.is(m.balancedAccuracy, 0.5);
  assert.is(balancedAccuracy(perClassMetrics(confusionMatrix(preds, CLASSES))), 0.5);
  assert.equal(meanFigures([m, { ...m, accuracy: 0.5, balancedAccuracy: 1, macroF1: 0.2 }]).balancedAccuracy, 0.75);
});

test('labelling curve: k cells per class join training; their whole groups leave the test set', () => {
  const cells: LabelledFile[] = Array.from({ length: 40 }, (_, i) => ({
    file: `normalize/cells/b/${i % 2 ? 'EOSINOPHIL' : 'NEUTROPHIL'}/c${i}.png`,
    class: i % 2 ? 'EOSINOPHIL' : 'NEUTROPHIL',
    lab: 'b',
    group: `session:b/S${i % 8}`,
    origin: `labs/images/b/c${i}.jpg`,
    path: '',
    label: i % 2,
  }));
  const { origins, groups } = labelledCells(cells, 3, 1);
  assert.is(origins.size, 6);
  const chosen = cells.filter((c) => origins.has(c.origin));
  assert.equal([...new Set(chosen.map((c) => c.class))].sort(), CLASSES);
  assert.equal(new Set(chosen.map((c) => c.group)), groups);
  assert.is(labelledCells(cells, 0, 1).origins.size, 0);
  assert.equal(labelledCells(cells, 3, 1).origins, origins, 'seeded: the same cells every run');
  // Each session here holds five cells of one class: one session per class covers k = 3, so six of the
  // eight sessions stay test (taking 3 cells per class at random would have used up to six sessions).
  assert.is(groups.size, 2);
  assert.is(cells.filter((c) => !groups.has(c.group)).length, 30);
  // With single-cell groups the choice is the first k cells per class in the seeded order.
  const single = cells.map((c) => ({ ...c, group: `cell:${c.origin}` }));
  const picked = labelledCells(single, 2, 7).origins;
  for (const cls of CLASSES) {
    const order = single.filter((c) => c.class === cls).sort((a, b) => unitHash(`curve:7:${a.origin}`) - unitHash(`curve:7:${b.origin}`));
    assert.equal(order.filter((c) => picked.has(c.origin)).map((c) => c.origin), order.slice(0, 2).map((c) => c.origin));
  }
});

test.run();
