// The split CSV record (stages/lib/records/split-csv.ts): what split writes, every reader reads back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labsOf, parseSplitCsv, readSplitCsv, splitCsvPath, splitRowsToCsv, type SplitRow } from '../../stages/lib/records/split-csv.js';

const rows: SplitRow[] = [
  { file: 'normalize/pbc/NEUTROPHIL/a.png', class: 'NEUTROPHIL', lab: 'pbc', group: 'g1', origin: 'labs/images/pbc/NEUTROPHIL/a.jpg' },
  { file: 'augment/variants/pbc/EOSINOPHIL/b, "odd"__v0.png', class: 'EOSINOPHIL', lab: 'chula', group: 'g2', origin: '' },
];

test('rows written by split read back unchanged, in the published byte layout', () => {
  const text = splitRowsToCsv(rows);
  assert.ok(text.startsWith('file,class,lab,group,origin\nnormalize/pbc/NEUTROPHIL/a.png,NEUTROPHIL,pbc,g1,'));
  assert.ok(text.endsWith('\n'));
  assert.equal(parseSplitCsv(text, 'test.csv'), rows);
  assert.equal(labsOf(rows), ['pbc', 'chula']);
});

test('readSplitCsv reads the file at splitCsvPath and names a missing file or column', () => {
  const dir = mkdtempSync(join(tmpdir(), 'split-csv-'));
  try {
    assert.throws(() => readSplitCsv(splitCsvPath(dir, 'val')), /val\.csv: split file is missing/);
    writeFileSync(splitCsvPath(dir, 'train'), splitRowsToCsv(rows));
    assert.equal(readSplitCsv(join(dir, 'train.csv')), rows);
    writeFileSync(splitCsvPath(dir, 'test'), 'file,lab\nx.png,pbc\n');
    assert.throws(() => readSplitCsv(splitCsvPath(dir, 'test')), /test\.csv: column "class" is missing \(header: file,lab\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('optional columns may be absent: a CSV of file and class reads with an empty lab, group and origin', () => {
  assert.equal(parseSplitCsv('file,class\nx.png,MONOCYTE\n', 'short.csv'), [
    { file: 'x.png', class: 'MONOCYTE', lab: '', group: '', origin: '' },
  ]);
});

test.run();
