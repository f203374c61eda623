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

test('SIGTERM or Ctrl-C while waiting for the lock ends the waiting run at once; it runs nothing later', async () => {
  const ws = new Workspace({ 'pipeline.json': { stages: [{ id: 'slow', command: 'echo slow >> calls.log; while [ ! -e go ]; do sleep 0.05; done' }] } });
  const first = ws.spawn(['run']);
  await until(() => ws.calls().length === 1, 'the first run to start');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const second = ws.spawn(['run', '--force', 'slow']);
    let out = '';
    second.stdout!.on('data', (d) => (out += d));
    second.stderr!.on('data', (d) => (out += d));
    await until(() => /waiting for another pipe run \(pid \d+.*remove \S+\.pipe\/lock/.test(out), 'the second run to wait');
    const t0 = Date.now();
    second.kill(signal);
    const code = await new Promise((r) => second.on('close', r));
    assert.ok(Date.now() - t0 < 5000, `${signal}: the waiting run ended promptly`);
    assert.is(code, 130, `${signal}: ${out}`);
    assert.match(out, /cancelled while waiting for the workspace lock; nothing was run/);
  }
  ws.write('go', '');
  await new Promise((r) => first.on('close', r));
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
  } finally {
    spawnSync('umount', [disk]);
    rmSync(disk, { recursive: true, force: true });
  }
});

test.after(disposeAll);
test.run();
