// More of a lab's cells for `pipe predict`'s test-time adaptation, through the CLI. `--adapt-with <folder>`:
// unlabelled images that adaptation reads beside the images classified; they count towards auto's threshold,
// change what the classified images get, are never classified themselves, and an image given both ways (the
// same bytes) is read once. `--labelled <folder of class folders>`: cells with their classes that self-training
// trains on every round; a folder that is not a class, or a method that does not self-train, is an error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import fg from 'fast-glob';
import { join } from 'node:path';
import sharp from 'sharp';
import { saveModelToDirectory } from '../../stages/lib/classifier/model-directory.js';
import { parseCsvRows } from '../../stages/lib/io/csv.js';
import { parsePredictArgs } from '../../stages/predict.js';
import { TINY_CLASSES } from './tiny-images.js';
import { disposeAll, repo, Workspace, type Result } from '../runner/rig.js';

const SIZE = 16;
const SMOKE = join(repo, 'test/study/fixtures/smoke-data');

let ws: Workspace;

/** conv → pool → the study head by its Keras names (graph-surgery.ts, createHeadLayers), seeded. */
function studyHeadModel(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const input = tf.input({ shape: [SIZE, SIZE, 3] });
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 3, activation: 'relu', kernelInitializer: init(1), name: 'conv' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'head_standardize' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: init(2), name: 'head_dense' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.5, name: 'head_dropout' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: TINY_CLASSES.length, activation: 'softmax', kernelInitializer: init(3), name: 'head_predictions' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

const predict = (args: string[]): Promise<Result> => ws.pipe(['predict', '--backend', 'cpu', '--model', ws.path('trained'), ...args], { INIT_CWD: ws.dir });

interface PredictionsJson {
  testTimeAdaptation: {
    applied: string;
    images: number;
    adaptWith: { folders: string[]; images: number };
    labelled: { folders: string[]; images: number; perClass: Record<string, number> };
    why: string;
  };
  images: { file: string; probabilities: Record<string, number> | null }[];
}
const readJson = (out: string) => JSON.parse(readFileSync(join(out, 'predictions.json'), 'utf8')) as PredictionsJson;

test.before(async () => {
  await tf.setBackend('cpu');
  ws = new Workspace({
    'pipeline.json': { stages: [{ id: 'noop', command: 'true' }], commands: { predict: { module: 'stages/predict.ts' } } },
  });
  symlinkSync(join(repo, 'stages'), ws.path('stages'));
  await saveModelToDirectory(studyHeadModel(), ws.path('trained/model'));
  writeFileSync(
    ws.path('trained/train.json'),
    JSON.stringify({
      schemaVersion: 1, instanceId: 'train[arch=tiny,mode=transfer]', arch: 'tiny', mode: 'transfer', status: 'trained',
      classes: TINY_CLASSES, inputSize: SIZE, preprocessing: 'rescale', weights: 'random',
      cell: { size: 32, margin: 0.1 }, normalization: null, sources: ['tiny'], params: {},
      data: { train: 0, val: 0 }, epochs: { planned: 0, completed: 0, kept: null, stoppedEarly: false, resumedFrom: null },
      best: null, parameters: null, backend: null, versions: {}, seconds: { wall: 0, training: 0 },
    }),
  );
  // Today's two cells to classify; the lab's archive holds all 24 smoke cells (today's two among them) and a dot.
  mkdirSync(ws.path('today'));
  cpSync(join(SMOKE, 'EOSINOPHIL/EO_10690.jpg'), ws.path('today/a.jpg'));
  cpSync(join(SMOKE, 'LYMPHOCYTE/LY_100275.jpg'), ws.path('today/b.jpg'));
  cpSync(SMOKE, ws.path('archive'), { recursive: true });
  await sharp({ create: { width: 1, height: 1, channels: 3, background: '#c04060' } }).png().toFile(ws.path('archive/dot.png'));
  // Six of the archive's cells labelled, in class folders named in any case.
  for (const [dir, files] of [['eosinophil', ['EO_110764', 'EO_114080', 'EO_114325']], ['LYMPHOCYTE', ['LY_107981', 'LY_113005', 'LY_10361']]] as const) {
    mkdirSync(ws.path(`labelled/${dir}`), { recursive: true });
    for (const f of files) cpSync(join(SMOKE, `${f.startsWith('EO') ? 'EOSINOPHIL' : 'LYMPHOCYTE'}/${f}.jpg`), ws.path(`labelled/${dir}/${f}.jpg`));
  }
});

test('the archive counts towards auto\'s threshold, is read by self-training and is not classified; only today\'s images get rows', async () => {
  // Alone, two images are too few for auto.
  let r = await predict(['--out', ws.path('alone'), ws.path('today')]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /test-time adaptation: none \(2 classified image\(s\); auto adapts from 32, --adapt self-training forces it, --adapt-with <more of the lab's images> makes it\)/);
  const alone = readJson(ws.path('alone'));

  // With the archive: 2 + 22 cells (today's two are not read again; the 1×1 dot is left out, with a warning) — under 32 for auto.
  r = await predict(['--out', ws.path('auto'), '--adapt-with', ws.path('archive'), ws.path('today')]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /1 of 23 --adapt-with image\(s\) left out of adaptation: \S+dot\.png: image too small/);
  assert.match(r.stdout, /none \(2 classified image\(s\) and 22 from --adapt-with; auto adapts from 32, --adapt self-training forces it\)/);

  // Forced: self-training reads all 24; the two classified images' probabilities change; the archive gets no rows.
  const out = ws.path('forced');
  r = await predict(['--out', out, '--adapt', 'self-training', '--adapt-with', ws.path('archive'), ws.path('today')]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /self-training: the head trained on its own most confident labels of these 2 images and 22 more from --adapt-with, taken as one lab's cells \(only these 2 classified\)/);
  const forced = readJson(out);
  assert.is(forced.testTimeAdaptation.applied, 'self-training');
  assert.is(forced.testTimeAdaptation.images, 24);
  assert.equal(forced.testTimeAdaptation.adaptWith, { folders: [ws.path('archive')], images: 22 });
  const [, ...rows] = parseCsvRows(readFileSync(join(out, 'predictions.csv'), 'utf8'));
  assert.equal(rows.map((row) => row[0]).sort(), ['today/a.jpg', 'today/b.jpg']);
  const p = (json: PredictionsJson, i: number) => json.images[i]!.probabilities![TINY_CLASSES[0]!]!;
  assert.ok(Math.abs(p(forced, 0) - p(alone, 0)) > 1e-4 || Math.abs(p(forced, 1) - p(alone, 1)) > 1e-4, 'the adapted head classifies differently');

  // Forced on the two alone: a different adaptation from the one with the archive.
  r = await predict(['--out', ws.path('forced-alone'), '--adapt', 'self-training', ws.path('today')]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(readJson(ws.path('forced-alone')).testTimeAdaptation.images, 2);
  assert.not.equal(readJson(ws.path('forced-alone')).images.map((i) => i.probabilities), forced.images.map((i) => i.probabilities));
});

test('an image given to classify and found in the archive under another name is read once', async () => {
  cpSync(join(SMOKE, 'EOSINOPHIL/EO_110764.jpg'), ws.path('renamed.jpg'));
  const r = await predict(['--out', ws.path('once'), '--adapt', 'adabn', '--adapt-with', ws.path('archive'), ws.path('renamed.jpg')]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const json = readJson(ws.path('once'));
  assert.is(json.testTimeAdaptation.applied, 'adabn');
  assert.is(json.testTimeAdaptation.images, 24, '1 classified + 23 more, not 1 + 24');
  assert.is(json.testTimeAdaptation.adaptWith.images, 23);
});

test('--adapt-with a missing folder, or with --adapt none: errors naming the flag or the path', async () => {
  let r = await predict(['--adapt-with', ws.path('no-such-archive'), ws.path('today')]);
  assert.is(r.code, 1);
  assert.match(r.stderr, new RegExp(`${ws.path('no-such-archive')}: no such file or folder`));
  r = await predict(['--adapt', 'none', '--adapt-with', ws.path('archive'), ws.path('today')]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /--adapt-with gives test-time adaptation more images of the lab, and --adapt none turns adaptation off/);
  assert.equal(parsePredictArgs(['--adapt-with', 'a', '--adapt-with', 'b', 'x.png']).adaptWith, ['a', 'b']);
  assert.throws(() => parsePredictArgs(['--adapt-with', '--adapt', 'none', 'x.png']), /--adapt-with needs a value/);
});

test('--labelled: self-training trains on the lab\'s labelled cells every round; they leave the archive and are counted by class', async () => {
  let r = await predict(['--out', ws.path('labelled-auto'), '--labelled', ws.path('labelled'), '--adapt-with', ws.path('archive'), ws.path('today')]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /none \(2 classified image\(s\) and 16 from --adapt-with and 6 labelled; auto adapts from 32/);
  const out = ws.path('labelled-forced');
  r = await predict(['--out', out, '--adapt', 'self-training', '--labelled', ws.path('labelled'), '--adapt-with', ws.path('archive'), ws.path('today')]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /these 2 images and 16 more from --adapt-with, taken as one lab's cells \(only these 2 classified\), and every round also on 6 labelled cells of the lab with their classes \(--labelled\)/);
  const json = readJson(out);
  assert.equal(json.testTimeAdaptation.labelled, { folders: [ws.path('labelled')], images: 6, perClass: { EOSINOPHIL: 3, LYMPHOCYTE: 3 } });
  assert.is(json.testTimeAdaptation.adaptWith.images, 16, 'the archive\'s copies of the labelled cells are not read again as unlabelled');
  assert.is(json.testTimeAdaptation.images, 18);
  // The labels change the adapted head: the same call without them classifies differently.
  r = await predict(['--out', ws.path('unlabelled-forced'), '--adapt', 'self-training', '--adapt-with', ws.path('archive'), ws.path('today')]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.not.equal(readJson(ws.path('unlabelled-forced')).images.map((i) => i.probabilities), json.images.map((i) => i.probabilities));
});

test('--labelled errors: a folder that is not a class, an image outside a class folder, a method that does not self-train', async () => {
  mkdirSync(ws.path('bad-labels/BASOPHIL'), { recursive: true });
  cpSync(join(SMOKE, 'EOSINOPHIL/EO_115441.jpg'), ws.path('bad-labels/BASOPHIL/x.jpg'));
  let r = await predict(['--labelled', ws.path('bad-labels'), ws.path('today')]);
  assert.is(r.code, 1);
  assert.match(r.stderr, new RegExp(`${ws.path('bad-labels/BASOPHIL')}: not one of the model's classes \\(EOSINOPHIL, LYMPHOCYTE\\)`));
  mkdirSync(ws.path('loose-labels/EOSINOPHIL'), { recursive: true });
  cpSync(join(SMOKE, 'EOSINOPHIL/EO_115441.jpg'), ws.path('loose-labels/x.jpg'));
  r = await predict(['--labelled', ws.path('loose-labels'), ws.path('today')]);
  assert.is(r.code, 1);
  assert.match(r.stderr, new RegExp(`${ws.path('loose-labels/x.jpg')}: an image outside a class folder`));
  r = await predict(['--adapt', 'adabn', '--labelled', ws.path('labelled'), ws.path('today')]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /--labelled gives self-training the lab's labelled cells, and --adapt adabn does not self-train/);
});

test('a second call reads the prepared cells from the command\'s cache and gives the same result; a damaged entry is prepared again; pipe gc empties it', async () => {
  rmSync(ws.path('artifacts/cache'), { recursive: true, force: true });
  const entries = () => (existsSync(ws.path('artifacts/cache')) ? fg.sync('predict/*/prepared-cells/*/*/*.cell', { cwd: ws.path('artifacts/cache') }) : []);
  const call = (out: string) => predict(['--out', ws.path(out), '--adapt', 'self-training', '--adapt-with', ws.path('archive'), ws.path('today')]);
  let r = await call('cache-1');
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.not.match(r.stdout, /read from predict's cache/);
  // Today's 2 and the archive's 23 others (the 1×1 dot too: prepared, kept, then refused as too small, as every call refuses it).
  assert.is(entries().length, 25);
  const first = readJson(ws.path('cache-1')).images.map((i) => i.probabilities);

  r = await call('cache-2');
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /cells: 25 of 25 image\(s\) read from predict's cache of prepared cells \(pipe gc empties it\)/);
  assert.equal(readJson(ws.path('cache-2')).images.map((i) => i.probabilities), first);

  // A torn entry (a disk that filled mid-write on another machine, say) is not read: that image is prepared again and the entry rewritten.
  const damaged = join(ws.path('artifacts/cache'), entries()[0]!);
  const whole = statSync(damaged).size;
  writeFileSync(damaged, readFileSync(damaged).subarray(0, 100));
  r = await call('cache-3');
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /cells: 24 of 25 image\(s\) read from predict's cache of prepared cells, 1 prepared/);
  assert.equal(readJson(ws.path('cache-3')).images.map((i) => i.probabilities), first);
  assert.is(statSync(damaged).size, whole);

  r = await ws.pipe(['gc']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /1 command caches/);
  assert.is(entries().length, 0);
});

test.after(disposeAll);
test.run();
