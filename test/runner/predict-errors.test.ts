// `pipe predict` through the CLI on bad input: a folder that is not a model, a broken model.json, a
// truncated weights.bin, --out an existing file — each a clear error naming the path (exit 1, no
// stack trace) — and images it must not classify as if nothing were wrong: too small (an error row)
// and without a cell (classified, flagged unreliable in the line and the files).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, readFileSync, symlinkSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { saveModelToDirectory } from '../../stages/lib/classifier/model-directory.js';
import { parseCsvRows } from '../../stages/lib/io/csv.js';
import { tinyModel, TINY_SIZE } from '../study/tiny-training.js';
import { TINY_CLASSES } from '../study/tiny-images.js';
import { disposeAll, repo, Workspace, type Result } from './rig.js';

let ws: Workspace;
let modelRoot = '';

/** A trained-model folder as train publishes it (train.json + model/), with a tiny seeded convnet. */
async function writeTinyTrainedModel(root: string): Promise<void> {
  await saveModelToDirectory(tinyModel(), join(root, 'model'));
  const record = {
    schemaVersion: 1, instanceId: 'train[arch=tiny,mode=scratch]', arch: 'tiny', mode: 'scratch', status: 'trained',
    classes: TINY_CLASSES, inputSize: TINY_SIZE, preprocessing: 'rescale', weights: 'random',
    cell: { size: 32, margin: 0.1 }, normalization: null, sources: ['tiny'], params: {},
    data: { train: 0, val: 0 }, epochs: { planned: 0, completed: 0, kept: null, stoppedEarly: false, resumedFrom: null },
    best: null, parameters: null, backend: null, versions: {}, seconds: { wall: 0, training: 0 },
  };
  writeFileSync(join(root, 'train.json'), JSON.stringify(record));
}

const predict = (args: string[]): Promise<Result> => ws.pipe(['predict', '--backend', 'cpu', ...args], { INIT_CWD: ws.dir });

/** A clean user error: exit 1, the message on stderr, no stack trace and no "internal error". */
function assertCleanError(r: Result, message: RegExp): void {
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, message);
  assert.not.match(r.stderr, /internal error|\n\s+at /);
}

test.before(async () => {
  ws = new Workspace({
    'pipeline.json': { stages: [{ id: 'noop', command: 'true' }], commands: { predict: { module: 'stages/predict.ts' } } },
  });
  symlinkSync(join(repo, 'stages'), ws.path('stages'));
  modelRoot = ws.path('trained');
  await writeTinyTrainedModel(modelRoot);
  mkdirSync(ws.path('images'));
  cpSync(join(repo, 'test/study/fixtures/smoke-data/EOSINOPHIL/EO_10690.jpg'), ws.path('images/cell.jpg'));
});

test('--model a folder that is not a model, a malformed model.json, a truncated weights.bin: errors naming the file', async () => {
  const image = ws.path('images/cell.jpg');
  mkdirSync(ws.path('not-a-model'));
  let r = await predict(['--model', ws.path('not-a-model'), image]);
  assertCleanError(r, new RegExp(`pipe: predict: ${ws.path('not-a-model')}: not a trained model \\(expected train\\.json and model/model\\.json here\\)`));

  cpSync(modelRoot, ws.path('bad-json'), { recursive: true });
  writeFileSync(ws.path('bad-json/model/model.json'), '{"modelTopology": {');
  r = await predict(['--model', ws.path('bad-json'), image]);
  assertCleanError(r, new RegExp(`${ws.path('bad-json/model/model.json')}: not valid JSON`));

  cpSync(modelRoot, ws.path('truncated'), { recursive: true });
  const weights = ws.path('truncated/model/weights.bin');
  const size = statSync(weights).size;
  truncateSync(weights, Math.floor(size / 2));
  r = await predict(['--model', ws.path('truncated'), image]);
  assertCleanError(r, new RegExp(`${weights}: ${Math.floor(size / 2)} bytes, but model\\.json's weightsManifest describes ${size} \\(truncated`));
});

test('--out an existing file: an error naming it, before any image is read', async () => {
  writeFileSync(ws.path('taken.txt'), 'x');
  const r = await predict(['--model', modelRoot, '--out', ws.path('taken.txt'), ws.path('images/cell.jpg')]);
  assertCleanError(r, new RegExp(`--out ${ws.path('taken.txt')}: ${ws.path('taken.txt')} is a file, not a folder`));
  assert.is(readFileSync(ws.path('taken.txt'), 'utf8'), 'x');
});

test('a 1×1 image is rejected by name, not classified; an image without a cell is flagged unreliable in the line, the CSV and the JSON', async () => {
  await sharp({ create: { width: 1, height: 1, channels: 3, background: '#c04060' } }).png().toFile(ws.path('images/dot.png'));
  await sharp({ create: { width: 120, height: 120, channels: 3, background: '#ffffff' } }).png().toFile(ws.path('images/blank.png'));
  const out = ws.path('preds');
  const r = await predict(['--model', modelRoot, '--out', out, ws.path('images')]);
  assert.is(r.code, 1, 'an image that could not be classified → exit 1');
  assert.match(r.stdout, /images\/dot\.png: ERROR \S+dot\.png: image too small \(1×1 px, need ≥ 16 on each side\); not classified/);
  assert.match(r.stdout, /images\/blank\.png: (EOSINOPHIL|LYMPHOCYTE) \(\d+\.\d%\) — WARNING: no cell found — prediction on the unsegmented image is unreliable/);
  assert.match(r.stdout, /images\/cell\.jpg: (EOSINOPHIL|LYMPHOCYTE) \(\d+\.\d%\)\n/, 'a found cell carries no warning');
  assert.match(r.stderr, /1 of 3 image\(s\): no cell found; their predictions are unreliable/);
  const [header, ...rows] = parseCsvRows(readFileSync(join(out, 'predictions.csv'), 'utf8'));
  const col = (name: string) => header!.indexOf(name);
  const row = (name: string) => rows.find((x) => x[0]!.endsWith(name))!;
  assert.is(row('dot.png')[col('predicted')], '');
  assert.match(row('dot.png')[col('error')]!, /image too small/);
  assert.match(row('blank.png')[col('warning')]!, /^no cell found — prediction on the unsegmented image is unreliable/);
  assert.is(row('blank.png')[col('cell_status')], 'fallback');
  assert.is(row('cell.jpg')[col('warning')], '');
  const json = JSON.parse(readFileSync(join(out, 'predictions.json'), 'utf8')) as { images: { file: string; predicted: string | null; warning: string | null }[] };
  const byName = (name: string) => json.images.find((i) => i.file.endsWith(name))!;
  assert.is(byName('dot.png').predicted, null);
  assert.match(byName('blank.png').warning ?? '', /no cell found/);
  assert.is(byName('cell.jpg').warning, null);
});

test.after(disposeAll);
test.run();
