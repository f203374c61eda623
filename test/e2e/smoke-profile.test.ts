// The whole study end to end, as CI runs it: `pipe run --profile smoke` in a fresh copy of the
// repository (every architecture × mode on 24 images for one step, through to the report), then an
// immediate second run that must do nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const workspace = mkdtempSync(join(tmpdir(), 'leukopipe-smoke-'));

function copyTrackedFiles(): void {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(repo, file))) continue; // deleted in the working tree
    cpSync(join(repo, file), join(workspace, file), { recursive: true });
  }
  cpSync(join(repo, 'dist'), join(workspace, 'dist'), { recursive: true });
  symlinkSync(join(repo, 'node_modules'), join(workspace, 'node_modules'));
}

function pipe(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(workspace, 'bin/pipe.js'), ...args], {
    cwd: workspace,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

test.after(() => rmSync(workspace, { recursive: true, force: true }));

test('smoke profile: the whole DAG runs, every train instance is evaluated and reported', () => {
  copyTrackedFiles();
  const first = pipe('run', '--profile', 'smoke', '-j', '2', '--plain');
  assert.is(first.code, 0, first.out.slice(-4000));
  const reportDir = join(workspace, 'artifacts/stages/report');
  for (const file of ['index.html', 'REPORT.md', 'metrics.json']) assert.ok(existsSync(join(reportDir, file)), file);

  const trainIds = [...first.out.matchAll(/^ran\s+(train\[[^\]]+\])/gm)].map((m) => m[1]!);
  assert.ok(trainIds.length >= 18, `every architecture × mode trained (${trainIds.length})`);
  for (const id of trainIds) {
    const evaluation = join(workspace, 'artifacts/stages', id.replace('train[', 'evaluate['), 'metrics.json');
    assert.ok(existsSync(evaluation), `evaluated: ${id}`);
  }
  // The ensemble of the MobileNet transfer and finetune models is built, evaluated and reported as one more model.
  assert.match(first.out, /^ran\s+ensemble\[arch=mobilenet_v1_0\.25,mode=ensemble\]/m);
  const ensemble = JSON.parse(readFileSync(join(workspace, 'artifacts/stages/evaluate[arch=mobilenet_v1_0.25,mode=ensemble]/metrics.json'), 'utf8'));
  assert.is(ensemble.status, 'evaluated');
  assert.is(ensemble.mode, 'ensemble');
  const html = readFileSync(join(reportDir, 'index.html'), 'utf8');
  assert.ok(html.includes('densenet201') && html.includes('small_cnn'), 'the report lists the architectures');
  assert.ok(html.includes('mobilenet_v1_0.25 · ensemble'), 'the report lists the ensemble');
  // The runner hands the report its run state: each stage's status in this very run.
  const md = readFileSync(join(reportDir, 'REPORT.md'), 'utf8');
  assert.match(md, /from the runner's run state/);
  assert.match(md, /^\| train \| .* \| ran \| /m);
});

test('three labs (labels from class folders, a CSV, VOC boxes + a CSV) reach the split, the cross-lab study and the report', () => {
  const stages = join(workspace, 'artifacts/stages');
  const labs = JSON.parse(readFileSync(join(stages, 'labs/labs.json'), 'utf8'));
  assert.equal(labs.labs.map((l: { name: string; labels: string }) => [l.name, l.labels]), [['smoke', 'folders'], ['chula', 'csv'], ['bccd', 'voc-boxes']]);
  assert.is(labs.labs[1].images, 12, 'the 12 files the Chula CSV names, no other');
  const rows = ['train', 'val', 'test'].flatMap((s) => readFileSync(join(stages, `split/${s}.csv`), 'utf8').trim().split('\n').slice(1));
  assert.match(readFileSync(join(stages, 'split/train.csv'), 'utf8'), /^file,class,lab,group,origin\n/);
  for (const lab of ['smoke', 'chula', 'bccd']) assert.ok(rows.some((r) => r.split(',')[2] === lab), `lab ${lab} in the split`);
  const crossLab = JSON.parse(readFileSync(join(stages, 'cross-lab[arch=mobilenet_v1_0.25]/cross-lab.json'), 'utf8'));
  assert.is(crossLab.status, 'evaluated');
  assert.equal(crossLab.heldOut.map((h: { lab: string; trainedOn: string[] }) => [h.lab, h.trainedOn]), [['bccd', ['chula', 'smoke']], ['chula', ['bccd', 'smoke']], ['smoke', ['bccd', 'chula']]]);
  for (const h of crossLab.heldOut) assert.is(h.asTrained.n, labs.labs.find((l: { name: string }) => l.name === h.lab).images, `all of ${h.lab}'s cells are its test`);
  const evaluation = JSON.parse(readFileSync(join(stages, 'evaluate[arch=mobilenet_v1_0.25,mode=transfer]/metrics.json'), 'utf8'));
  // The same-lab split is the pooled test cells of the labs that have some (on 40 smoke cells, maybe one lab).
  const testLabs = [...new Set(readFileSync(join(stages, 'split/test.csv'), 'utf8').trim().split('\n').slice(1).map((r) => r.split(',')[2]!))];
  assert.is(evaluation.primarySource, testLabs.length > 1 ? 'all-labs' : testLabs[0]);
  assert.ok(typeof evaluation.test.balancedAccuracy === 'number');
  const html = readFileSync(join(stages, 'report/index.html'), 'utf8');
  for (const lab of ['smoke', 'chula', 'bccd']) assert.ok(html.includes(`data-held-out-lab="${lab}"`), `report row for held-out ${lab}`);
  assert.ok(html.includes('id="labs-table"') && html.includes('ours, by eye'), 'labs table with who labelled them');
  assert.ok(html.includes('data-chart="labelling-curve"'), 'labelling curve plot');
  const expected = [...(testLabs.length > 1 ? ['all-labs'] : []), ...testLabs, 'blur-jpeg', 'scale-shift', 'stain-shift', 'white-tight'].sort();
  assert.equal(Object.keys(evaluation.sources).sort(), expected, 'every source is a lab, the pooled labs or a simulation; none is called pbc');
  assert.match(readFileSync(join(stages, 'report/REPORT.md'), 'utf8'), /## Leave one lab out/);
});

test('the cell\'s size relative to its lab: a transfer and a fine-tuned model\'s second input, the ensemble\'s too, evaluated and held out with it', () => {
  const stages = join(workspace, 'artifacts/stages');
  const read = (file: string) => JSON.parse(readFileSync(join(stages, file), 'utf8'));
  assert.equal(read('train[arch=mobilenet_v1_0.25,mode=transfer]/train.json').cellSize, { copies: 8, jitter: 0.3, median: 'lab' });
  const inputs = (dir: string) => read(`${dir}/model/model.json`).modelTopology.config.input_layers.map((l: unknown[]) => l[0]);
  assert.equal(read('train[arch=mobilenet_v1_0.25,mode=finetune]/train.json').cellSize, { copies: 8, jitter: 0.3, median: 'lab' }, 'a fine-tuned model reads the size too');
  assert.equal(inputs('train[arch=mobilenet_v1_0.25,mode=finetune]').length, 2);
  assert.is(read('train[arch=small_cnn,mode=scratch]/train.json').cellSize, null, 'a model trained from scratch reads the image alone');
  assert.is(inputs('train[arch=mobilenet_v1_0.25,mode=transfer]').length, 2);
  assert.is(inputs('train[arch=mobilenet_v1_0.25,mode=transfer]')[1], 'cell_size');
  assert.equal(inputs('ensemble[arch=mobilenet_v1_0.25,mode=ensemble]'), ['ensemble_input', 'ensemble_cell_size']);
  assert.equal(read('evaluate[arch=mobilenet_v1_0.25,mode=ensemble]/metrics.json').model.cellSize, { copies: 8, jitter: 0.3, median: 'lab' });
  const crossLab = read('cross-lab[arch=mobilenet_v1_0.25]/cross-lab.json');
  assert.equal(crossLab.cellSize, { copies: 8, jitter: 0.3 });
  assert.match(crossLab.features, /then the cell's size relative to its lab ×8$/);
});

test('an immediate second run does nothing', () => {
  const second = pipe('run', '--profile', 'smoke', '-j', '2', '--plain');
  assert.is(second.code, 0, second.out.slice(-4000));
  assert.not.match(second.out, /^(ran|restored)\s/m);
  assert.match(second.out, /up to date/);
});

test.run();
