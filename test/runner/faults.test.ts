// Faults from outside the pipeline (kill -9, full disks, signals, stale locks, failures mid-run): what
// the runner leaves behind and what it says.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { disposeAll, Workspace } from './rig.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean, what: string, ms = 60_000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
};
// A process killed here may stay a zombie when pid 1 of a container does not reap: that one is dead too.
const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
};

// The shell writes its host's pid and its own, then ticks from a child loop (`sleep` children in between).
const ticking = {
  stages: [{ id: 'tick', command: 'echo "$PPID $$" > pids.txt; for i in $(seq 1 300); do echo $i >> tick.txt; sleep 0.1; done' }],
};
const ticks = (ws: Workspace) => (ws.exists('tick.txt') ? ws.read('tick.txt').split('\n').filter(Boolean).length : 0);

async function assertStopsTicking(ws: Workspace) {
  const [, shell] = ws.read('pids.txt').trim().split(' ').map(Number) as [number, number];
  await sleep(500);
  const n = ticks(ws);
  await sleep(1000);
  assert.is(ticks(ws), n, 'tick.txt kept growing: the command outlived its runner');
  assert.is(alive(shell), false, `the stage's shell (pid ${shell}) is still running`);
}

test('kill -9 of the runner during a command stage kills the shell and its children', async () => {
  const ws = new Workspace({ 'pipeline.json': ticking });
  const child = ws.spawn(['run']);
  await until(() => ticks(ws) >= 3, 'the command to tick');
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  await assertStopsTicking(ws);
});

test('kill -9 of the stage host during a command stage kills its shell group too; the instance fails', async () => {
  const ws = new Workspace({ 'pipeline.json': ticking });
  const run = ws.pipe(['run']);
  await until(() => ticks(ws) >= 3 && ws.exists('pids.txt'), 'the command to tick');
  const [host] = ws.read('pids.txt').trim().split(' ').map(Number) as [number];
  process.kill(host, 'SIGKILL');
  const r = await run;
  assert.is(r.code, 1);
  assert.match(r.stdout, /FAILED\s+tick[\s\S]*stage process exited \(SIGKILL\)/);
  await assertStopsTicking(ws);
});

test('after a failure, instances still waiting for a slot do not start (without --keep-going)', async () => {
  const later = ['a1', 'a2', 'a3', 'a4'].map((id) => ({ id, command: `echo ${id} >> calls.log; sleep 1` }));
  const ws = new Workspace({ 'pipeline.json': { stages: [{ id: 'bad', command: 'sleep 0.3; exit 3' }, ...later] } });
  const r = await ws.pipe(['run', '-j', '2']);
  assert.is(r.code, 1);
  assert.equal(ws.calls(), ['a1']);
  for (const id of ['a2', 'a3', 'a4']) assert.match(r.stdout, new RegExp(`skipped\\s+${id} .*an earlier instance failed`));
});

test('a dry run with a missing module exits 1 and still says what else would run', async () => {
  const ws = new Workspace({ 'pipeline.json': { stages: [{ id: 'ghost', module: 'stages/ghost.ts' }, { id: 'ok', command: 'true' }, { id: 'after', command: 'true', deps: ['ok'] }] } });
  const r = await ws.pipe(['run', '-n']);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /ghost[\s\S]*module stages\/ghost\.ts does not exist/);
  assert.not.match(r.stdout, /skipped/);
  assert.match(r.stdout, /would run\s+ok/);
  assert.match(r.stdout, /would run\s+after/);
});

test.after(disposeAll);
test.run();
