import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { seededPermutation } from '../../stages/lib/classifier/batch-source.js';
import { fit } from '../../stages/lib/classifier/training-loop.js';
import { tempDir, writeTinyStudy } from './tiny-images.js';
import { TINY_SIZE, tinyModel, tinySources, trainTiny } from './tiny-training.js';

let root = '';

test.before(async () => {
  await tf.setBackend('cpu');
  root = await tempDir('loop');
  await writeTinyStudy(root, { size: TINY_SIZE });
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function run(stateDir: string, epochs: number, extra: Partial<Parameters<typeof fit>[0]> = {}) {
  return trainTiny(root, stateDir, epochs, extra);
}

function sources() {
  return tinySources(root);
}

test('seeded permutation is a permutation and depends on the seed', () => {
  const a = seededPermutation(20, 1);
  assert.equal([...a].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
  assert.equal(seededPermutation(20, 1), a);
  assert.not.equal(seededPermutation(20, 2), a);
});

test('every epoch appends a history line and replaces the checkpoint', async () => {
  const stateDir = join(root, 'state-a');
  const { result } = await run(stateDir, 2);
  const lines = readFileSync(join(stateDir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.is(lines.length, 2);
  assert.equal(lines.map((l) => l.epoch), [1, 2]);
  for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'seconds']) assert.type(lines[0][key], 'number', key);
  const state = JSON.parse(readFileSync(join(stateDir, 'checkpoint', 'state.json'), 'utf8'));
  assert.is(state.epochsDone, 2);
  assert.is(state.steps, 2 * Math.ceil(8 / 3));
  assert.is(result.resumedFromEpoch, null);
});

test('a run interrupted after epoch 1 resumes and ends with the weights of an uninterrupted run', async () => {
  const straight = await run(join(root, 'state-straight'), 3);
  const stateDir = join(root, 'state-resumed');
  await run(stateDir, 1); // the "killed" run: its checkpoint stays in stateDir
  const resumed = await run(stateDir, 3);
  assert.is(resumed.result.resumedFromEpoch, 1);
  assert.equal(resumed.result.history.map((r) => r.epoch), [1, 2, 3]);
  const w1 = straight.model.getWeights().map((w) => Array.from(w.dataSync()));
  const w2 = resumed.model.getWeights().map((w) => Array.from(w.dataSync()));
  assert.equal(w2, w1);
  // With the best-epoch snapshot restored, both hold the same weights: compare final val losses too.
  assert.is(resumed.result.history[2]!.val_loss, straight.result.history[2]!.val_loss);
});

test('with an unseeded Dropout (as tfjs has it), training is still reproducible, resumed or not, and Math.random is given back', async () => {
  const ownRandom = Math.random;
  const a = await trainTiny(root, join(root, 'drop-a'), 3, {}, true);
  const b = await trainTiny(root, join(root, 'drop-b'), 3, {}, true);
  await trainTiny(root, join(root, 'drop-c'), 1, {}, true);
  const c = await trainTiny(root, join(root, 'drop-c'), 3, {}, true);
  assert.is(c.result.resumedFromEpoch, 1);
  const weights = (m: { model: tf.LayersModel }) => m.model.getWeights().map((w) => Array.from(w.dataSync()));
  assert.equal(weights(b), weights(a));
  assert.equal(weights(c), weights(a));
  assert.is(Math.random, ownRandom);
});

test('a training process killed (SIGKILL) mid-run resumes from its last checkpoint to the same weights', async () => {
  const stateDir = join(root, 'state-killed');
  const epochs = 12;
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/study/tiny-training.ts', root, stateDir, String(epochs)], { stdio: 'ignore' });
  const statePath = join(stateDir, 'checkpoint', 'state.json');
  let ended = false;
  const exited = new Promise<void>((done) => child.on('exit', () => ((ended = true), done())));
  for (;;) {
    await new Promise((r) => setTimeout(r, 20));
    if (ended) assert.unreachable('the training child exited before its second checkpoint');
    if (existsSync(statePath) && JSON.parse(readFileSync(statePath, 'utf8')).epochsDone >= 2) break;
  }
  child.kill('SIGKILL');
  await exited;
  const killedAfter = JSON.parse(readFileSync(statePath, 'utf8')).epochsDone as number;
  assert.ok(killedAfter < epochs, `the child was killed before finishing (after epoch ${killedAfter})`);
  const resumed = await run(stateDir, epochs);
  assert.ok(resumed.result.resumedFromEpoch !== null && resumed.result.resumedFromEpoch >= 2);
  assert.equal(resumed.result.history.map((r) => r.epoch), Array.from({ length: epochs }, (_, i) => i + 1));
  const straight = await run(join(root, 'state-killed-straight'), epochs);
  assert.equal(
    resumed.model.getWeights().map((w) => Array.from(w.dataSync())),
    straight.model.getWeights().map((w) => Array.from(w.dataSync())),
  );
});

test('early stopping ends training once val_loss stops improving', async () => {
  const stateDir = join(root, 'state-early');
  const model = tinyModel();
  const result = await fit({
    model,
    optimizer: tf.train.sgd(1e-9),
    ...sources(),
    epochs: 6,
    seed: 3,
    earlyStopping: { patience: 2, minDelta: 1e-3 },
    stateDir,
  });
  assert.is(result.history.length, 3);
  assert.ok(result.state.stoppedEarly);
  assert.is(result.state.bestEpoch, 1);
  assert.is(result.weightsFromEpoch, 1);
  assert.ok(existsSync(join(stateDir, 'best', 'best.bin')));
});

test.run();
