// A training run killed mid-way and resumed publishes, under the same key, the very bytes an
// uninterrupted run publishes: the small CNN from scratch with Adam, through the real CLI.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fg from 'fast-glob';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinyCellPng } from '../study/tiny-images.js';
import { disposeAll, repo, Workspace } from './rig.js';

const CLASSES = ['EOSINOPHIL', 'LYMPHOCYTE'];
// 10 steps an epoch and a kill after epoch 2 or 3: resumes at step 20 or 30, where Adam's β₂ᵗ recomputed
// as a power differs from the running product (a resume that lost it gave another model).
const EPOCHS = 4;

async function studyWorkspace(): Promise<Workspace> {
  const ws = new Workspace({
    'pipeline.json': {
      stages: [
        { id: 'split', command: 'cp -r data/. "$PIPE_OUT/"', inputs: ['data/**'] },
        {
          id: 'train',
          module: 'stages/train.ts',
          deps: ['split'],
          params: {
            arch: 'small_cnn', mode: 'scratch', classes: CLASSES, epochs: EPOCHS, batchSize: 1, seed: 5, inputSize: 'min',
            preprocessing: 'rescale', earlyStopping: null, maxStepsPerEpoch: null, optimizer: { name: 'adam', learningRate: 0.01 },
            cell: { size: 24, margin: 0.1 }, backend: 'wasm',
          },
        },
      ],
    },
    'stages/train.ts': `export { default } from ${JSON.stringify(join(repo, 'stages', 'train.ts'))};\n`,
  });
  let seed = 1;
  for (const split of ['train', 'val']) {
    const rows = ['file,class,lab,group,origin'];
    for (const c of CLASSES) {
      for (let i = 0; i < (split === 'train' ? 5 : 1); i++) {
        const rel = `cells/${c}/${split}_${i}.png`;
        ws.write(`data/${rel}`, '');
        writeFileSync(ws.path(`data/${rel}`), await tinyCellPng(c, seed++, 24));
        rows.push(`split/${rel},${c},tiny,${c}-${split}-${i},${rel}`);
      }
    }
    ws.write(`data/${split}.csv`, rows.join('\n') + '\n');
  }
  ws.write('data/split.json', JSON.stringify({ classes: CLASSES }));
  return ws;
}

const modelBytes = (ws: Workspace) =>
  Object.fromEntries(fg.sync('artifacts/stages/train/model/*', { cwd: ws.dir }).sort().map((f) => [f, readFileSync(ws.path(f)).toString('base64')]));

test('kill -9 of a training run after a few epochs, then a rerun: the same key holds the bytes of an uninterrupted run', async () => {
  const straight = await studyWorkspace();
  const r = await straight.pipe(['run']);
  assert.is(r.code, 0, r.stdout + r.stderr);

  const killed = await studyWorkspace();
  const run = killed.run(['run']);
  const epochsDone = () => {
    const [state] = fg.sync('.pipe/state/*/scratch/checkpoint/state.json', { cwd: killed.dir });
    return state ? (JSON.parse(readFileSync(killed.path(state), 'utf8')) as { epochsDone: number }).epochsDone : 0;
  };
  // The training logs an epoch once its checkpoint is saved (the wait fails if the run ends first).
  await run.waitFor(/^\[train\] epoch 2\/\d+:/m, 'the checkpoint of epoch 2');
  run.kill('SIGKILL');
  await run.result;
  assert.ok(epochsDone() >= 2, 'a checkpoint after epoch 2');
  assert.ok(epochsDone() < EPOCHS, 'killed before the last epoch');
  const resumed = await killed.pipe(['run']);
  assert.is(resumed.code, 0, resumed.stdout + resumed.stderr);
  assert.match(resumed.stdout + resumed.stderr, /resuming after epoch \d+/);

  const record = (ws: Workspace) => JSON.parse(ws.read('artifacts/stages/train/train.json'));
  assert.is(record(killed).epochs.resumedFrom >= 2, true);
  const key = (ws: Workspace) => (JSON.parse(ws.read('.pipe/current.json')) as Record<string, { key: string }>).train!.key;
  assert.is(key(killed), key(straight));
  assert.equal(modelBytes(killed), modelBytes(straight));
  assert.equal(
    killed.read('artifacts/stages/train/history.jsonl').split('\n').filter(Boolean).map((l) => JSON.parse(l).val_loss),
    straight.read('artifacts/stages/train/history.jsonl').split('\n').filter(Boolean).map((l) => JSON.parse(l).val_loss),
  );
});

test.after(disposeAll);
test.run();
