import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync } from 'node:fs';
import { disposeAll, stageApi, Workspace } from './rig.js';

const until = async (cond: () => boolean, what: string, ms = 90_000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

// Per-item stage whose third item blocks until the file `go` exists.
const gatedItems = `
import { definePerItemStage } from ${JSON.stringify(stageApi)};
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default definePerItemStage({
  async processItems(ctx, items) {
    for (const it of items) {
      appendFileSync(join(ctx.workspace, 'calls.log'), 'item ' + it.input.rel + '\\n');
      if (it.input.rel.endsWith('3.txt')) {
        writeFileSync(join(it.outDir, 'partial.out'), 'half');
        while (!existsSync(join(ctx.workspace, 'go'))) await new Promise((r) => setTimeout(r, 20));
      }
      writeFileSync(join(it.outDir, it.input.rel.replace(/\\W/g, '_') + '.out'), 'done');
    }
  },
});
`;

test('kill -9 of the runner mid-stage: nothing half-written is visible; the rerun does only the unfinished work', async () => {
  const ws = new Workspace({
    'pipeline.json': { stages: [{ id: 'items', module: 'stages/items.ts', perItem: true, inputs: ['data/*.txt'] }, { id: 'after', command: 'echo after >> calls.log', deps: ['items'] }] },
    'stages/items.ts': gatedItems,
    ...Object.fromEntries([1, 2, 3, 4].map((i) => [`data/${i}.txt`, String(i)])),
  });
  const child = ws.spawn(['run', '-j', '1']);
  await until(() => ws.calls().includes('item data/3.txt'), 'item 3 to start');
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  assert.is(ws.exists('artifacts/stages/items'), false);
  assert.ok(ws.exists('.pipe/lock'), 'the killed run leaves its lock behind');
  ws.write('go', '');
  ws.resetCalls();
  const r = await ws.pipe(['run', '-j', '1']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /took over the lock of pipe run pid \d+, which is gone/);
  assert.equal(ws.calls(), ['item data/3.txt', 'item data/4.txt', 'after']);
  assert.match(r.stdout, /\(items: 2 ran, 2 cached\)/);
  assert.is(ws.read('artifacts/stages/items/partial.out'), 'half');
  ws.dispose();
});

const gatedWhole = `
import { defineStage } from ${JSON.stringify(stageApi)};
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default defineStage({
  async run(ctx) {
    appendFileSync(join(ctx.workspace, 'calls.log'), 'run ' + ctx.instanceId + '\\n');
    writeFileSync(join(ctx.outDir, 'half.txt'), 'half');
    while (!existsSync(join(ctx.workspace, 'go'))) await new Promise((r) => setTimeout(r, 20));
    writeFileSync(join(ctx.outDir, 'full.txt'), 'full');
  },
});
`;

test('a second run waits for the first (or refuses with --no-wait), then finds everything up to date', async () => {
  const ws = new Workspace({ 'pipeline.json': { stages: [{ id: 'slow', module: 'stages/slow.ts' }] }, 'stages/slow.ts': gatedWhole });
  const first = ws.spawn(['run']);
  let firstOut = '';
  first.stdout!.on('data', (d) => (firstOut += d));
  await until(() => ws.calls().length === 1, 'the first run to start its stage');
  const refused = await ws.pipe(['run', '--no-wait']);
  assert.is(refused.code, 3);
  assert.match(refused.stderr, /another pipe run \(pid \d+/);
  const second = ws.spawn(['run']);
  let secondOut = '';
  second.stdout!.on('data', (d) => (secondOut += d));
  await until(() => /waiting for another pipe run \(pid \d+/.test(secondOut), 'the second run to wait');
  ws.write('go', '');
  await Promise.all([new Promise((r) => first.on('close', r)), new Promise((r) => second.on('close', r))]);
  assert.match(firstOut, /ran\s+slow/);
  assert.match(secondOut, /up to date\s+slow/);
  assert.equal(ws.calls(), ['run slow']);
  ws.dispose();
});

test('kill -9 of a stage process fails the instance, publishes nothing, and the rerun reruns it', async () => {
  const ws = new Workspace({ 'pipeline.json': { stages: [{ id: 'slow', module: 'stages/slow.ts' }] }, 'stages/slow.ts': gatedWhole.replace("'run ' + ctx.instanceId", "'run ' + process.pid") });
  const run = ws.pipe(['run']);
  await until(() => ws.calls().length === 1, 'the stage to start');
  process.kill(Number(ws.calls()[0]!.split(' ')[1]), 'SIGKILL');
  const r = await run;
  assert.is(r.code, 1);
  assert.match(r.stdout, /FAILED\s+slow[\s\S]*stage process exited \(SIGKILL\)/);
  assert.is(ws.exists('artifacts/stages/slow'), false);
  ws.write('go', '');
  const r2 = await ws.pipe(['run']);
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
        { id: 'other', command: 'sleep 1; echo other >> calls.log' },
      ],
    },
  });
  const r = await ws.pipe(['run', '--keep-going']);
  assert.is(r.code, 1);
  assert.match(r.stdout, /FAILED\s+bad[\s\S]*command exited with code 7\n\s+to-stderr/);
  assert.match(r.stdout, /skipped\s+child .*dependency bad did not finish/);
  assert.match(r.stdout, /ran\s+other/);
  assert.equal(ws.calls(), ['other']);
  ws.dispose();
});

const gpuStage = `
import { defineStage } from ${JSON.stringify(stageApi)};
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default defineStage({
  async run(ctx) {
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(join(ctx.outDir, 'device.json'), JSON.stringify({ env: process.env.CUDA_VISIBLE_DEVICES ?? null, granted: ctx.resources.gpu, secret: process.env.SECRET ?? null, declared: process.env.DECLARED ?? null }));
  },
});
`;

test('GPU slots: each instance gets its own device via CUDA_VISIBLE_DEVICES; without GPUs the run says so once; only declared env passes', async () => {
  const ws = new Workspace({
    'pipeline.json': { env: ['DECLARED'], stages: [{ id: 'fit', module: 'stages/fit.ts', matrix: { k: [1, 2] }, resources: { gpu: 1 } }] },
    'stages/fit.ts': gpuStage,
    'bin/nvidia-smi': '#!/bin/sh\necho "GPU 0: Fake A (UUID: GPU-0)"\necho "GPU 1: Fake B (UUID: GPU-1)"\n',
  });
  chmodSync(ws.path('bin/nvidia-smi'), 0o755);
  const r = await ws.pipe(['run', '-j', '2'], { PATH: `${ws.path('bin')}:${process.env.PATH}`, SECRET: 's', DECLARED: 'd' });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const devices = [1, 2].map((k) => JSON.parse(ws.read(`artifacts/stages/fit[k=${k}]/device.json`)));
  assert.equal(devices.map((d) => d.env).sort(), ['0', '1']);
  assert.equal(devices.map((d) => d.granted[0]).sort(), ['0', '1']);
  assert.equal(devices.map((d) => [d.secret, d.declared]), [[null, 'd'], [null, 'd']]);

  const cpu = await ws.pipe(['run', '--force', 'fit', '--gpus', '0']);
  assert.is(cpu.code, 0, cpu.stderr);
  assert.is(cpu.stdout.match(/no GPU found/g)?.length, 1);
  assert.equal(JSON.parse(ws.read('artifacts/stages/fit[k=1]/device.json')).env, '');
  ws.dispose();
  assert.ok(!existsSync(ws.dir));
});

test.after(disposeAll);
test.run();
