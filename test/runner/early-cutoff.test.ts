// Early cutoff: a dependent's key records what its deps published, not their keys. A dep that reran
// and wrote the same files leaves its dependents up to date; one that wrote different files reruns them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { disposeAll, Workspace } from './rig.js';

const pipeline = {
  stages: [
    // `note` changes make's key but not what it writes; `word` changes both.
    { id: 'make', command: 'echo ${params.word} > "$PIPE_OUT/word.txt"; echo make >> calls.log', params: { word: 'hi', note: 'a' }, outputs: ['word.txt'] },
    // Reads make's output through its published folder (no declared inputs), as a stage may.
    { id: 'use', command: 'tr a-z A-Z < artifacts/stages/make/word.txt > "$PIPE_OUT/loud.txt"; echo use >> calls.log', deps: ['make'], outputs: ['loud.txt'] },
  ],
};

test('a dep that reran with the same outputs leaves its dependent up to date; new outputs rerun it', async () => {
  const ws = new Workspace({ 'pipeline.json': pipeline });
  const r1 = await ws.pipe(['run', '--plain']);
  assert.is(r1.code, 0, r1.stdout + r1.stderr);
  assert.equal(ws.calls(), ['make', 'use']);
  assert.is(ws.read('artifacts/stages/use/loud.txt'), 'HI\n');

  ws.resetCalls();
  const r2 = await ws.pipe(['run', '--plain', '--set', 'make.note=b']);
  assert.is(r2.code, 0, r2.stdout + r2.stderr);
  assert.equal(ws.calls(), ['make']);
  assert.match(r2.stdout, /ran\s+make/);
  assert.match(r2.stdout, /up to date\s+use/);

  ws.resetCalls();
  const r3 = await ws.pipe(['run', '--plain', '--set', 'make.word=ho']);
  assert.is(r3.code, 0, r3.stdout + r3.stderr);
  assert.equal(ws.calls(), ['make', 'use']);
  assert.match(r3.stdout, /ran\s+use\s.*deps: make changed/);
  assert.is(ws.read('artifacts/stages/use/loud.txt'), 'HO\n');
});

test.after(disposeAll);
test.run();
