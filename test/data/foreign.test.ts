import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fg from 'fast-glob';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import foreign from '../../stages/foreign.js';
import { inputFile, makeContext } from './context.js';
import { rejection } from './synthetic.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const labels = 'test/study/fixtures/bccd-smoke-labels.csv';
const set = { source: 'bccd-by-eye', description: 'four BCCD crops', vocRoot: 'data/bccd/BCCD', labels, margin: 0.15 };

function inputs(withLabels: boolean) {
  const files = fg.sync(['data/bccd/BCCD/Annotations/BloodImage_000*.xml', 'data/bccd/BCCD/JPEGImages/BloodImage_000*.jpg', 'data/bccd/BCCD/Annotations/BloodImage_0010*.xml', 'data/bccd/BCCD/JPEGImages/BloodImage_0010*.jpg'], { cwd: repo });
  if (withLabels) files.push(labels);
  return files.sort().map((f) => inputFile(repo, path.join(repo, f)));
}

test('foreign: labelled smears become a test set in the shifted layout, one crop per labelled leukocyte', async () => {
  const ctx = makeContext('foreign', { sets: [set] }, { workspace: repo, inputs: inputs(true) });
  await foreign.run(ctx);
  const sets = JSON.parse(readFileSync(path.join(ctx.outDir, 'sets.json'), 'utf8'));
  assert.equal(
    sets.items.map((it: { class: string; source: string }) => `${it.source} ${it.class}`).sort(),
    ['bccd-by-eye EOSINOPHIL', 'bccd-by-eye LYMPHOCYTE', 'bccd-by-eye MONOCYTE', 'bccd-by-eye NEUTROPHIL'],
  );
  assert.equal(sets.sets[0].perClass, { EOSINOPHIL: 1, LYMPHOCYTE: 1, MONOCYTE: 1, NEUTROPHIL: 1 });
  for (const it of sets.items) assert.ok(existsSync(path.join(ctx.outDir, it.file)), it.file);
  assert.ok(sets.items.some((it: { file: string }) => it.file === 'sets/bccd-by-eye/NEUTROPHIL/BloodImage_00000__crop0.png'));
});

test('foreign: a labels file outside the stage inputs is refused (it would not be part of the key)', async () => {
  const ctx = makeContext('foreign', { sets: [set] }, { workspace: repo, inputs: inputs(false) });
  const err = await rejection(() => foreign.run(ctx));
  assert.match(err.message, /bccd-smoke-labels\.csv: is not among the stage's inputs/);
});

test.run();
