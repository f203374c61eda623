import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { renameSync, symlinkSync } from 'node:fs';
import { disposeAll, upperStage, Workspace } from '../runner/rig.js';

// A whole stage that takes a while, to change its input while it runs. It logs start and end, and
// ignores ctx.signal, so a cancel must end its process (the runner kills it 2 s after asking).
const slowStage = `
import { defineStage } from ${JSON.stringify(new URL('../../pipeline/stage-api.js', import.meta.url).pathname)};
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default defineStage({
  async run(ctx) {
    const text = ctx.inputs.map((f) => readFileSync(f.path, 'utf8')).join(',');
    appendFileSync(join(ctx.workspace, 'calls.log'), 'start slow ' + text + '\\n');
    await new Promise((r) => setTimeout(r, 2500));
    writeFileSync(join(ctx.outDir, 'out.txt'), text);
    appendFileSync(join(ctx.workspace, 'calls.log'), 'end slow ' + text + '\\n');
  },
});
`;

const pipeline = {
  stages: [
    { id: 'upper', module: 'stages/upper.ts', perItem: true, inputs: ['data/**/*.txt'], outputs: ['up/**', 'summary.json'] },
    { id: 'slow', module: 'slowstage/slow.ts', inputs: ['slowdata/*.txt'], outputs: ['out.txt'] },
  ],
};

/** A running `pipe watch`, with helpers to wait for its cycle reports. */
class Watcher {
  out = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d) => (this.out += d));
    child.stderr!.on('data', (d) => (this.out += d));
    this.exited = new Promise((r) => child.on('close', (c) => r(c)));
  }
  async waitFor(re: RegExp, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.out)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; output:\n${this.out}`);
      await sleep(50);
    }
  }
  /** The block printed for cycle n. */
  block(n: number): string {
    const start = this.out.indexOf(`── cycle ${n} `);
    const end = this.out.indexOf(`   cycle ${n} `, start);
    return start < 0 || end < 0 ? '' : this.out.slice(start, this.out.indexOf('\n', end));
  }
  cycles(): number {
    return (this.out.match(/^ {3}cycle \d+ /gm) ?? []).length;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ws = new Workspace({
  'pipeline.json': pipeline,
  'stages/upper.ts': upperStage,
  'stages/lib/suffix.ts': "export const suffix = '';\n",
  'slowstage/slow.ts': slowStage,
  'slowdata/a.txt': 'a1',
  ...Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`data/c${i % 2}/f${i}.txt`, `f${i}`])),
});
// A symlink pointing back up the watched tree must hang neither the watcher nor the runner's globs.
symlinkSync('..', ws.path('slowdata/loop'));
symlinkSync('..', ws.path('data/c0/loop'));

let w: Watcher;

test.after(() => {
  if (process.env.WATCH_DEBUG) console.log(w?.out);
  w?.child.kill('SIGKILL');
  disposeAll();
});

test('the initial cycle runs everything, then the watcher waits', async () => {
  w = new Watcher(ws.spawn(['watch', '--debounce', '150', '-j', '2']));
  await w.waitFor(/^ {3}cycle 1 /m);
  assert.match(w.out, /watching /);
  assert.match(w.block(1), /initial run/);
  assert.match(w.block(1), /ran: .*upper \(4 items\)/);
  assert.equal(ws.calls().filter((c) => c.startsWith('item')).length, 4);
});

test('adding an image runs just that item', async () => {
  ws.resetCalls();
  ws.write('data/c1/new.txt', 'new');
  await w.waitFor(/^ {3}cycle 2 /m);
  assert.match(w.block(2), /1 added: \+data\/c1\/new\.txt/);
  assert.equal(ws.calls(), ['item upper data/c1/new.txt', 'finalize upper']);
  assert.is(ws.read('artifacts/stages/upper/up/data/c1/new.txt'), 'NEW');
});

test('moving an image to another class folder is one item of work, and the old output goes', async () => {
  ws.resetCalls();
  renameSync(ws.path('data/c0/f0.txt'), ws.path('data/c1/f0.txt'));
  await w.waitFor(/^ {3}cycle 3 /m);
  assert.match(w.block(3), /1 added, 1 removed/);
  assert.equal(ws.calls(), ['item upper data/c1/f0.txt', 'finalize upper']);
  assert.ok(!ws.exists('artifacts/stages/upper/up/data/c0/f0.txt'));
  assert.ok(ws.exists('artifacts/stages/upper/up/data/c1/f0.txt'));
});

test('deleting an image processes no item and removes its output', async () => {
  ws.resetCalls();
  ws.remove('data/c1/f3.txt');
  await w.waitFor(/^ {3}cycle 4 /m);
  assert.match(w.block(4), /1 removed: -data\/c1\/f3\.txt/);
  assert.match(w.block(4), /upper \(0 items, 1 removed\)/);
  assert.equal(ws.calls(), ['finalize upper']);
  assert.ok(!ws.exists('artifacts/stages/upper/up/data/c1/f3.txt'));
});

test('a rapid burst of changes is one cycle', async () => {
  ws.resetCalls();
  for (let i = 0; i < 5; i++) {
    ws.write(`data/c0/burst${i}.txt`, `b${i}`);
    await sleep(20);
  }
  await w.waitFor(/^ {3}cycle 5 /m);
  await sleep(600);
  assert.is(w.cycles(), 5);
  assert.match(w.block(5), /5 added/);
  assert.equal(ws.calls().filter((c) => c.startsWith('item')).sort(), [0, 1, 2, 3, 4].map((i) => `item upper data/c0/burst${i}.txt`));
});

test('changing the input of a running stage cancels it and runs it again; the other stage is untouched', async () => {
  ws.resetCalls();
  ws.write('slowdata/a.txt', 'a2');
  ws.write('data/c0/f2.txt', 'changed');
  // Wait until the slow stage is running in cycle 6, then change its input again.
  const end = Date.now() + 20_000;
  while (!ws.calls().includes('start slow a2')) {
    if (Date.now() > end) throw new Error(`slow never started:\n${w.out}`);
    await sleep(30);
  }
  ws.write('slowdata/a.txt', 'a3');
  await w.waitFor(/^ {3}cycle 7 /m);
  assert.match(w.block(6), /cancelled \(inputs changed, scheduled again\): slow/);
  assert.match(w.block(6), /ran: upper \(1 item\)/);
  assert.match(w.block(7), /ran: slow/);
  assert.not.match(w.block(7), /upper/);
  assert.equal(ws.calls().filter((c) => c.includes('slow')), ['start slow a2', 'start slow a3', 'end slow a3']);
  assert.equal(ws.calls().filter((c) => c.includes('upper')), ['item upper data/c0/f2.txt', 'finalize upper']);
  assert.is(ws.read('artifacts/stages/slow/out.txt'), 'a3');
});

test('a broken pipeline.json shows the error and keeps watching; fixing it resumes', async () => {
  ws.resetCalls();
  ws.write('pipeline.json', '{ "stages": [ ');
  await w.waitFor(/^ {3}cycle 8 /m);
  assert.match(w.block(8), /pipeline\.json.*JSON syntax error/s);
  assert.match(w.block(8), /cycle 8 not run/);
  // Changes while broken are reported again, and kept for when the file is fixed.
  ws.write('data/c0/while-broken.txt', 'wb');
  await w.waitFor(/^ {3}cycle 9 /m);
  assert.match(w.block(9), /cycle 9 not run/);
  ws.write('pipeline.json', pipeline);
  await w.waitFor(/^ {3}cycle 10 /m);
  assert.match(w.block(10), /ran: upper \(1 item\)/);
  assert.equal(ws.calls(), ['item upper data/c0/while-broken.txt', 'finalize upper']);
});

test('Ctrl-C stops cleanly and leaves the store consistent (a plain run is up to date)', async () => {
  w.child.kill('SIGINT');
  assert.is(await w.exited, 0);
  const r = await ws.pipe(['run']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /done: 2 up to date/);
});

test('--until stops each cycle at a stage and --cycles N exits after N cycles', async () => {
  ws.resetCalls();
  const u = new Watcher(ws.spawn(['watch', '--until', 'upper', '--debounce', '100', '--cycles', '2']));
  await u.waitFor(/^ {3}cycle 1 /m);
  ws.write('slowdata/a.txt', 'a4');
  ws.write('data/c1/until.txt', 'u');
  assert.is(await u.exited, 0, u.out);
  assert.match(u.block(2), /ran: upper \(1 item\)/);
  assert.match(u.out, /watching data, pipeline\.json, stages /); // not slowdata: slow is not needed
  assert.not.match(u.block(2), /slowdata/);
  assert.equal(ws.calls(), ['item upper data/c1/until.txt', 'finalize upper']);
});

test.run();
