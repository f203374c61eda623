// Faults from outside the pipeline (kill -9, full disks, signals, stale locks, failures mid-run): what
// the runner leaves behind and what it says.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fg from 'fast-glob';
import { hostname } from 'node:os';
import { disposeAll, Workspace, type PipeReader } from './rig.js';

// Dead: gone, a zombie (pid 1 of a container may not reap what is killed here), or exiting (PF_EXITING
// in the stat flags: a process closes its files a moment before it turns zombie).
const alive = (pid: number) => {
  try {
    const [state, , , , , , flags] = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return state !== 'Z' && state !== 'X' && (Number(flags) & 0x4) === 0;
  } catch {
    return false;
  }
};

// The shell writes its host's pid and its own, then ticks from a loop (`sleep` children in between) into
// a named pipe the test reads: the loop and every `sleep` hold it open, so its end means all have exited.
const ticking = {
  stages: [{ id: 'tick', command: 'echo "$PPID $$" > pids.txt; for i in $(seq 1 300); do echo $i; sleep 0.1; done > ticks.fifo' }],
};

async function assertStopsTicking(ws: Workspace, ticks: PipeReader) {
  const [, shell] = ws.read('pids.txt').trim().split(' ').map(Number) as [number, number];
  await ticks.ended('the command to stop ticking (a tick still coming would mean the command outlived its runner)', 15_000);
  assert.is(alive(shell), false, `the stage's shell (pid ${shell}) is still running`);
}

test('kill -9 of the runner during a command stage kills the shell and its children', async () => {
  const ws = new Workspace({ 'pipeline.json': ticking });
  const ticks = ws.pipeReader('ticks.fifo');
  const run = ws.run(['run']);
  await ticks.waitLines(3, 'the command to tick');
  run.kill('SIGKILL');
  await run.result;
  await assertStopsTicking(ws, ticks);
});

test('kill -9 of the stage host during a command stage kills its shell group too; the instance fails', async () => {
  const ws = new Workspace({ 'pipeline.json': ticking });
  const ticks = ws.pipeReader('ticks.fifo');
  const run = ws.pipe(['run']);
  await ticks.waitLines(3, 'the command to tick');
  const [host] = ws.read('pids.txt').trim().split(' ').map(Number) as [number];
  process.kill(host, 'SIGKILL');
  const r = await run;
  assert.is(r.code, 1);
  assert.match(r.stdout, /FAILED\s+tick[\s\S]*stage process exited \(SIGKILL\)/);
  await assertStopsTicking(ws, ticks);
});

test('after a failure, instances still waiting for a slot do not start (without --keep-going)', async () => {
  // bad and a1 take the two slots at once; a1 waits on the gate until bad has failed, a2…a4 for a slot
  // (the gate lets all four through, so one started by mistake would show in calls.log, not hang).
  const later = ['a1', 'a2', 'a3', 'a4'].map((id) => ({ id, command: `echo ${id} >> calls.log; read _ < later.gate` }));
  const ws = new Workspace({ 'pipeline.json': { stages: [{ id: 'bad', command: 'exit 3' }, ...later] } });
  const gate = ws.gate('later.gate');
  const run = ws.run(['run', '-j', '2']);
  await run.waitFor(/FAILED\s+bad/, 'bad to fail');
  gate.open(4);
  const r = await run.result;
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

test('SIGTERM or Ctrl-C while waiting for the lock ends the waiting run at once; it runs nothing later', async () => {
  const ws = new Workspace({ 'pipeline.json': { stages: [{ id: 'slow', command: 'echo slow >> calls.log; echo started; read _ < slow.gate' }] } });
  const gate = ws.gate('slow.gate');
  const first = ws.run(['run']);
  await first.waitFor(/\[slow\] started/, 'the first run to start its stage');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const second = ws.run(['run', '--force', 'slow']);
    await second.waitFor(/waiting for another pipe run \(pid \d+.*remove \S+\.pipe\/lock/, 'the second run to wait');
    const t0 = Date.now();
    second.kill(signal);
    const { code } = await second.result;
    assert.ok(Date.now() - t0 < 5000, `${signal}: the waiting run ended promptly`);
    assert.is(code, 130, `${signal}: ${second.out}`);
    assert.match(second.out, /cancelled while waiting for the workspace lock; nothing was run/);
  }
  gate.open();
  await first.result;
  assert.equal(ws.calls(), ['slow'], 'no cancelled run ran the stage later');
});

test('a lock held by a live but unrelated pid (pid reused after a reboot) is taken over', async () => {
  const ws = new Workspace({ 'pipeline.json': { stages: [{ id: 'a', command: 'echo a >> calls.log' }] } });
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  // This test's own pid is alive, but it never ran pipe: recorded in another boot, or started at another time.
  for (const lock of [{ boot: 'another-boot', started: '1' }, { boot: bootId, started: '1' }]) {
    ws.write('.pipe/lock', { pid: process.pid, host: hostname(), since: '2020-01-01T00:00:00.000Z', command: 'pipe run', ...lock });
    ws.resetCalls();
    const r = await ws.pipe(['run', '--no-wait', '--force', 'a']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`took over the lock of pipe run pid ${process.pid}`));
    assert.equal(ws.calls(), ['a']);
  }
});

test('a full disk: the failing instance and the file are named, the run ends with its summary, no temporary file survives', async () => {
  // A real full disk: .pipe and artifacts on a 3 MiB tmpfs (needs root, as in CI's container).
  const disk = mkdtempSync(join(tmpdir(), 'pipe-full-'));
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', disk]).status !== 0) {
    rmSync(disk, { recursive: true, force: true });
    console.log('  (not run: cannot mount a tmpfs here)');
    return;
  }
  try {
    const ws = new Workspace({
      'pipeline.json': {
        stages: [
          { id: 'a', command: 'head -c 1200K /dev/zero > "$PIPE_OUT/a.bin"' },
          { id: 'b', command: 'head -c 500K /dev/zero > "$PIPE_OUT/b.bin"', deps: ['a'] },
        ],
      },
    });
    for (const d of ['.pipe', 'artifacts']) {
      mkdirSync(join(disk, d));
      symlinkSync(join(disk, d), ws.path(d));
    }
    const r = await ws.pipe(['run', '-j', '1']);
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.not.match(r.stderr, /internal error/);
    assert.match(r.stdout + r.stderr, /ENOSPC[^\n]*\//, 'the message names the file');
    assert.match(r.stdout, /FAILED\s+b/);
    assert.match(r.stdout, /^FAILED: .*1 failed/im);
    const temporaries = () => fg.sync(['.pipe/**/*.tmp-*', 'artifacts/**/*.tmp-*'], { cwd: ws.dir, dot: true, followSymbolicLinks: true });
    assert.equal(temporaries(), []);
    // What a killed writer left is removed by the next run (a live writer's would be kept).
    ws.write('.pipe/current.json.tmp-2147483646-0badf00d', '{');
    ws.write('artifacts/manifests/ab/cd.json.tmp-2147483646-0badf00d', '{');
    await ws.pipe(['run', 'a']);
    assert.equal(temporaries(), []);
    // Item records are written under the lock only: the next run sweeps them when it takes over a dead
    // run's lock, and pipe gc at any time; a run after a clean exit does not list them at all.
    const itemTemp = 'artifacts/items/ab/cd.json.tmp-2147483646-0badf00d';
    ws.write(itemTemp, '{');
    await ws.pipe(['run', 'a']);
    assert.equal(temporaries(), [itemTemp]);
    ws.write('.pipe/lock', { pid: 2147483646, host: hostname(), since: '2020-01-01T00:00:00.000Z', command: 'pipe run' });
    const r2 = await ws.pipe(['run', 'a']);
    assert.match(r2.stderr, /took over the lock of pipe run pid 2147483646/);
    assert.equal(temporaries(), []);
    ws.write(itemTemp, '{');
    const gc = await ws.pipe(['gc']);
    assert.is(gc.code, 0, gc.stdout + gc.stderr);
    assert.equal(temporaries(), []);
  } finally {
    spawnSync('umount', [disk]);
    rmSync(disk, { recursive: true, force: true });
  }
});

test.after(disposeAll);
test.run();
