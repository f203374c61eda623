import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync } from 'node:fs';
import { controlledItemsStage, controlledStage, disposeAll, RIG_ENV, Workspace } from './rig.js';

test('kill -9 of the runner mid-stage: nothing half-written is visible; the rerun does only the unfinished work', async () => {
  const ws = new Workspace({
    'pipeline.json': { stages: [{ id: 'items', module: 'stages/items.ts', perItem: true, inputs: ['data/*.txt'], env: [RIG_ENV] }, { id: 'after', command: 'echo after >> calls.log', deps: ['items'] }] },
    'stages/items.ts': controlledItemsStage,
    ...Object.fromEntries([1, 2, 3, 4].map((i) => [`data/${i}.txt`, String(i)])),
  });
  const stage = await ws.controlled();
  // With -j 1 and 4 items, each item is a chunk of its own: one invocation per item.
  const run = ws.run(['run', '-j', '1']);
  for (const rel of ['data/1.txt', 'data/2.txt']) {
    const inv = await stage.nextInvocation('items');
    assert.equal(inv.items, [rel]);
    await inv.finish();
  }
  const third = await stage.nextInvocation('items');
  assert.equal(third.items, ['data/3.txt']);
  await third.write({ 'partial.out': 'half' });
  run.kill('SIGKILL');
  await run.result;
  await third.closed(); // its stage host saw the runner go and exited
  assert.is(ws.exists('artifacts/stages/items'), false);
  assert.ok(ws.exists('.pipe/lock'), 'the killed run leaves its lock behind');
  ws.resetCalls();
  const before = stage.invocations.length;
  const rerun = ws.run(['run', '-j', '1']);
  const again = await stage.nextInvocation('items');
  assert.equal(again.items, ['data/3.txt']);
  await again.finish({ 'partial.out': 'half', 'out/data/3.txt': 'done' });
  const fourth = await stage.nextInvocation('items');
  assert.equal(fourth.items, ['data/4.txt']);
  await fourth.finish();
  const r = await rerun.result;
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /took over the lock of pipe run pid \d+, which is gone/);
  assert.equal(stage.invocations.slice(before).map((inv) => inv.items), [['data/3.txt'], ['data/4.txt']]);
  assert.equal(ws.calls(), ['after']);
  assert.match(r.stdout, /\(items: 2 ran, 2 cached\)/);
  assert.is(ws.read('artifacts/stages/items/partial.out'), 'half');
  ws.dispose();
});

const slow = { 'pipeline.json': { stages: [{ id: 'slow', module: 'stages/slow.ts', env: [RIG_ENV] }] }, 'stages/slow.ts': controlledStage };

test('a second run waits for the first (or refuses with --no-wait), then finds everything up to date', async () => {
  const ws = new Workspace(slow);
  const stage = await ws.controlled();
  const first = ws.run(['run']);
  const inv = await stage.nextInvocation('slow');
  await inv.write({ 'half.txt': 'half' });
  const refused = await ws.pipe(['run', '--no-wait']);
  assert.is(refused.code, 3);
  assert.match(refused.stderr, /another pipe run \(pid \d+/);
  const second = ws.run(['run']);
  await second.waitFor(/waiting for another pipe run \(pid \d+/, 'the second run to wait');
  await inv.finish({ 'full.txt': 'full' });
  const [firstResult, secondResult] = await Promise.all([first.result, second.result]);
  assert.match(firstResult.stdout, /ran\s+slow/);
  assert.match(secondResult.stdout, /up to date\s+slow/);
  assert.equal(stage.invocations.map(String), [String(inv)], 'the stage ran once');
  ws.dispose();
});

test('kill -9 of a stage process fails the instance, publishes nothing, and the rerun reruns it', async () => {
  const ws = new Workspace(slow);
  const stage = await ws.controlled();
  const run = ws.pipe(['run']);
  const inv = await stage.nextInvocation('slow');
  await inv.write({ 'half.txt': 'half' });
  process.kill(inv.pid, 'SIGKILL');
  const r = await run;
  assert.is(r.code, 1);
  assert.match(r.stdout, /FAILED\s+slow[\s\S]*stage process exited \(SIGKILL\)/);
  assert.is(ws.exists('artifacts/stages/slow'), false);
  const rerun = ws.pipe(['run']);
  await (await stage.nextInvocation('slow')).finish({ 'half.txt': 'half', 'full.txt': 'full' });
  const r2 = await rerun;
  assert.match(r2.stdout, /ran\s+slow/);
  assert.is(ws.read('artifacts/stages/slow/full.txt'), 'full');
  ws.dispose();
});

test('a failing stage stops its dependents, reports its message and exit code; --keep-going finishes independent branches', async () => {
  const ws = new Workspace({
    'pipeline.json': {
      stages: [
        { id: 'bad', command: 'echo to-stderr >&2; exit 7' },
        { id: 'child', command: 'echo child >> calls.log', deps: ['bad'] },
        // Still running when bad fails: it waits on the gate the test opens after that.
        { id: 'other', command: 'read _ < other.gate; echo other >> calls.log' },
      ],
    },
  });
  const gate = ws.gate('other.gate');
  const run = ws.run(['run', '--keep-going']);
  await run.waitFor(/FAILED\s+bad/, 'bad to fail');
  gate.open();
  const r = await run.result;
  assert.is(r.code, 1);
  assert.match(r.stdout, /FAILED\s+bad[\s\S]*command exited with code 7\n\s+to-stderr/);
  assert.match(r.stdout, /skipped\s+child .*dependency bad did not finish/);
  assert.match(r.stdout, /ran\s+other/);
  assert.equal(ws.calls(), ['other']);
  ws.dispose();
});

test('GPU slots: each instance gets its own device via CUDA_VISIBLE_DEVICES; without GPUs the run says so once; only declared env passes', async () => {
  const ws = new Workspace({
    'pipeline.json': { env: ['DECLARED'], stages: [{ id: 'fit', module: 'stages/fit.ts', matrix: { k: [1, 2] }, resources: { gpu: 1 }, env: [RIG_ENV] }] },
    'stages/fit.ts': controlledStage,
    'bin/nvidia-smi': '#!/bin/sh\necho "GPU 0: Fake A (UUID: GPU-0)"\necho "GPU 1: Fake B (UUID: GPU-1)"\n',
  });
  chmodSync(ws.path('bin/nvidia-smi'), 0o755);
  const stage = await ws.controlled();
  const env = { PATH: `${ws.path('bin')}:${process.env.PATH}`, SECRET: 's', DECLARED: 'd' };
  const run = ws.pipe(['run', '-j', '2'], env);
  // Both instances hold their devices at once: each is told to finish only when both have started.
  const both = [await stage.nextInvocation('fit'), await stage.nextInvocation('fit')];
  const seen = (inv: (typeof both)[number]) => ({ env: inv.env.CUDA_VISIBLE_DEVICES ?? null, granted: inv.resources.gpu, secret: inv.env.SECRET ?? null, declared: inv.env.DECLARED ?? null });
  for (const inv of both) await inv.finish({ 'device.json': JSON.stringify(seen(inv)) });
  const r = await run;
  assert.is(r.code, 0, r.stdout + r.stderr);
  const devices = [1, 2].map((k) => JSON.parse(ws.read(`artifacts/stages/fit[k=${k}]/device.json`)));
  assert.equal(devices.map((d) => d.env).sort(), ['0', '1']);
  assert.equal(devices.map((d) => d.granted[0]).sort(), ['0', '1']);
  assert.equal(devices.map((d) => [d.secret, d.declared]), [[null, 'd'], [null, 'd']]);

  const cpuRun = ws.pipe(['run', '--force', 'fit', '--gpus', '0']);
  const k1 = await stage.nextInvocation('fit[k=1]');
  await k1.finish({ 'device.json': JSON.stringify(seen(k1)) });
  stage.finishAll();
  const cpu = await cpuRun;
  assert.is(cpu.code, 0, cpu.stderr);
  assert.is(cpu.stdout.match(/no GPU found/g)?.length, 1);
  assert.equal(JSON.parse(ws.read('artifacts/stages/fit[k=1]/device.json')).env, '');
  ws.dispose();
  assert.ok(!existsSync(ws.dir));
});

test.after(disposeAll);
test.run();
