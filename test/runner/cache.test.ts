import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { symlinkSync } from 'node:fs';
import { concatStage, upperStage, Workspace } from './rig.js';

const pipeline = {
  stages: [
    { id: 'upper', module: 'stages/upper.ts', perItem: true, inputs: ['data/*.txt'], outputs: ['up/**', 'summary.json'] },
    {
      id: 'concat', module: 'stages/concat.ts', deps: ['upper'], inputs: [{ from: 'upper', glob: 'up/**' }],
      params: { tag: 'v1' }, outputs: ['out.txt'],
    },
    { id: 'shell', command: 'echo ${params.word} > "$PIPE_OUT/word.txt"; echo shell >> calls.log', params: { word: 'hello' }, outputs: ['word.txt'] },
  ],
};

function workspace() {
  return new Workspace({
    'pipeline.json': pipeline,
    'stages/upper.ts': upperStage,
    'stages/concat.ts': concatStage,
    'stages/lib/suffix.ts': "export const suffix = '!';\n",
    'data/a.txt': 'a',
    'data/b.txt': 'b',
    'README.md': 'docs',
  });
}

const ws = workspace();

test('first run runs everything; second run reports every instance up to date and runs nothing', async () => {
  const r1 = await ws.pipe(['run']);
  assert.is(r1.code, 0, r1.stdout + r1.stderr);
  assert.equal(ws.calls().sort(), ['finalize upper', 'item upper data/a.txt', 'item upper data/b.txt', 'run concat', 'shell'].sort());
  assert.is(ws.read('artifacts/stages/concat/out.txt'), 'v1\nup/data/a.txt=A!\nup/data/b.txt=B!');
  assert.is(ws.read('artifacts/stages/shell/word.txt'), 'hello\n');
  ws.resetCalls();
  const r2 = await ws.pipe(['run']);
  assert.is(r2.code, 0);
  assert.equal(ws.calls(), []);
  assert.match(r2.stdout, /up to date\s+upper/);
  assert.match(r2.stdout, /up to date\s+concat/);
  assert.match(r2.stdout, /up to date\s+shell/);
});

test('a README edit invalidates nothing', async () => {
  ws.write('README.md', 'more docs');
  ws.resetCalls();
  const r = await ws.pipe(['run']);
  assert.is(r.code, 0);
  assert.equal(ws.calls(), []);
});

test('a change in a transitively imported file reruns exactly the stages that import it', async () => {
  ws.write('stages/lib/suffix.ts', "export const suffix = '?';\n");
  ws.resetCalls();
  const r = await ws.pipe(['run']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(ws.calls().sort(), ['finalize upper', 'item upper data/a.txt', 'item upper data/b.txt', 'run concat'].sort());
  assert.is(ws.read('artifacts/stages/concat/out.txt'), 'v1\nup/data/a.txt=A?\nup/data/b.txt=B?');
});

test('explain names the changed input file; --set reruns one stage; switching back restores from the run-cache', async () => {
  const ex0 = await ws.pipe(['explain', 'concat', '--set', 'concat.tag=v2']);
  assert.match(ex0.stdout, /params: tag changed \("v1" → "v2"\)/);
  ws.resetCalls();
  const r1 = await ws.pipe(['run', '--set', 'concat.tag=v2']);
  assert.is(r1.code, 0);
  assert.equal(ws.calls(), ['run concat']);
  assert.is(ws.read('artifacts/stages/concat/out.txt').split('\n')[0], 'v2');
  ws.resetCalls();
  const r2 = await ws.pipe(['run']);
  assert.equal(ws.calls(), []);
  assert.match(r2.stdout, /restored\s+concat/);
  assert.is(ws.read('artifacts/stages/concat/out.txt').split('\n')[0], 'v1');
});

test('dry-run reports what would run and why, and changes nothing', async () => {
  ws.write('data/a.txt', 'changed');
  ws.resetCalls();
  const r = await ws.pipe(['run', '--dry-run']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /would run\s+upper\s+\[inputs: data\/a\.txt changed/);
  assert.match(r.stdout, /would run\s+concat\s+\[dependency upper will run\]/);
  assert.match(r.stdout, /up to date\s+shell/);
  assert.equal(ws.calls(), []);
  const ex = await ws.pipe(['explain', 'upper']);
  assert.match(ex.stdout, /inputs: data\/a\.txt changed/);
  ws.resetCalls();
  await ws.pipe(['run']);
  assert.equal(ws.calls().sort(), ['finalize upper', 'item upper data/a.txt', 'run concat'].sort());
});

test('an output edited or deleted by hand is detected and restored, never trusted', async () => {
  ws.write('artifacts/stages/concat/out.txt', 'tampered');
  ws.remove('artifacts/stages/shell/word.txt');
  ws.resetCalls();
  const r = await ws.pipe(['run']);
  assert.is(r.code, 0);
  assert.equal(ws.calls(), []);
  assert.match(r.stdout, /restored\s+concat .*out\.txt was edited/);
  assert.match(r.stdout, /restored\s+shell .*word\.txt was deleted/);
  assert.match(ws.read('artifacts/stages/concat/out.txt'), /^v1\n/);
  assert.is(ws.read('artifacts/stages/shell/word.txt'), 'hello\n');
});

test('input globs follow a linked folder once and do not loop on a link back up the tree', async () => {
  const linked = new Workspace({
    'pipeline.json': { stages: [{ id: 'upper', module: 'stages/upper.ts', perItem: true, inputs: ['data/**/*.txt'], outputs: ['up/**', 'summary.json'] }] },
    'stages/upper.ts': upperStage,
    'stages/lib/suffix.ts': "export const suffix = '';\n",
    'data/own/a.txt': 'a',
    'elsewhere/big-disk/b.txt': 'b',
  });
  try {
    symlinkSync('../elsewhere/big-disk', linked.path('data/mounted'));
    symlinkSync('..', linked.path('data/own/loop'));
    symlinkSync('does-not-exist', linked.path('data/own/dangling.txt'));
    const r = await linked.pipe(['run']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.equal(linked.calls().filter((c) => c.startsWith('item')).sort(), ['item upper data/mounted/b.txt', 'item upper data/own/a.txt']);
    assert.is(linked.read('artifacts/stages/upper/up/data/mounted/b.txt'), 'B');
  } finally {
    linked.dispose();
  }
});

test('gc frees objects that no current output or recent run refers to', async () => {
  const before = await ws.pipe(['gc', '--keep-runs', '0']);
  assert.is(before.code, 0, before.stderr);
  assert.match(before.stdout, /freed [\d.]+ \w+ \((\d+) bytes\): (\d+) objects/);
  const freed = Number(/\((\d+) bytes\)/.exec(before.stdout)![1]);
  assert.ok(freed > 0, before.stdout);
  ws.resetCalls();
  const r = await ws.pipe(['run']);
  assert.equal(ws.calls(), []);
  assert.not.match(r.stdout, /restored|ran /);
  const again = await ws.pipe(['gc', '--keep-runs', '0']);
  assert.match(again.stdout, /freed 0 B/);
});

test('gc keeps the checkpoint a recent failed run left for its resume, and removes it once no kept run needs it', async () => {
  const ckpt = new Workspace({
    'pipeline.json': {
      stages: [{ id: 'fit', command: 'echo epoch > "$PIPE_STATE/checkpoint.txt"; echo fit >> calls.log; exit ${params.exitCode}', params: { exitCode: 0 }, outputs: [] }],
    },
  });
  try {
    const failedRun = await ckpt.pipe(['run', '--set', 'fit.exitCode=3']);
    assert.is(failedRun.code, 1, failedRun.stdout);
    const left = ckpt.list('.pipe/state');
    assert.is(left.length, 1, 'the failed instance leaves its checkpoint folder');
    const kept = await ckpt.pipe(['gc']);
    assert.match(kept.stdout, /0 checkpoint folders/);
    assert.equal(ckpt.list('.pipe/state'), left);
    const ok = await ckpt.pipe(['run']);
    assert.is(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(ckpt.list('.pipe/state'), left, 'a successful run of another key does not touch it');
    const dropped = await ckpt.pipe(['gc', '--keep-runs', '0']);
    assert.match(dropped.stdout, /1 checkpoint folders/);
    assert.equal(ckpt.list('.pipe/state'), []);
  } finally {
    ckpt.dispose();
  }
});

test.after(() => ws.dispose());
test.run();
