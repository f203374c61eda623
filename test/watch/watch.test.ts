import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renameSync, symlinkSync } from 'node:fs';
import { controlledStage, disposeAll, RIG_ENV, upperStage, Workspace, type Invocation, type Running } from '../runner/rig.js';

const pipeline = {
  stages: [
    { id: 'upper', module: 'stages/upper.ts', perItem: true, inputs: ['data/**/*.txt'], outputs: ['up/**', 'summary.json'] },
    // A whole stage the test drives (test/runner/controlled-stage.ts), to change its input while it runs.
    { id: 'slow', module: 'slowstage/slow.ts', inputs: ['slowdata/*.txt'], outputs: ['out.txt'], env: [RIG_ENV] },
  ],
};

/** A running `pipe watch`, with helpers to wait for its cycle reports. */
class Watcher {
  readonly exited: Promise<number | null>;
  constructor(readonly run: Running) {
    this.exited = run.result.then((r) => r.code);
  }
  get out(): string {
    return this.run.out;
  }
  async waitFor(re: RegExp): Promise<void> {
    await this.run.waitFor(re, 'the watcher to print it');
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
  'slowstage/slow.ts': controlledStage,
  'slowdata/a.txt': 'a1',
  ...Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`data/c${i % 2}/f${i}.txt`, `f${i}`])),
});
// A symlink pointing back up the watched tree must hang neither the watcher nor the runner's globs.
symlinkSync('..', ws.path('slowdata/loop'));
symlinkSync('..', ws.path('data/c0/loop'));
const stage = await ws.controlled();
/** slow's output: the text of its input. */
const finishSlow = (inv: Invocation) => inv.finish({ 'out.txt': inv.inputText() ?? '' });

let w: Watcher;

test.after(() => {
  if (process.env.WATCH_DEBUG) console.log(w?.out);
  w?.run.kill('SIGKILL');
  disposeAll();
});

test('the initial cycle runs everything, then the watcher waits', async () => {
  w = new Watcher(ws.run(['watch', '--debounce', '150', '-j', '2']));
  await finishSlow(await stage.nextInvocation('slow'));
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
  // The burst is the behaviour under test: writes 20 ms apart, well inside the 150 ms debounce window.
  for (let i = 0; i < 5; i++) {
    ws.write(`data/c0/burst${i}.txt`, `b${i}`);
    await sleep(20);
  }
  await w.waitFor(/^ {3}cycle 5 /m);
  // No event says that nothing more comes: wait 4 debounce windows and check that no sixth cycle started.
  await sleep(600);
  assert.is(w.cycles(), 5);
  assert.match(w.block(5), /5 added/);
  assert.equal(ws.calls().filter((c) => c.startsWith('item')).sort(), [0, 1, 2, 3, 4].map((i) => `item upper data/c0/burst${i}.txt`));
});

test('changing the input of a running stage cancels it and runs it again; the other stage is untouched', async () => {
  ws.resetCalls();
  const before = stage.invocations.length;
  ws.write('slowdata/a.txt', 'a2');
  ws.write('data/c0/f2.txt', 'changed');
  // Cycle 6 runs slow with a2; it ignores ctx.signal, so the cancel that changing its input again
  // brings must end its process (the runner kills it 2 s after asking).
  const a2 = await stage.nextInvocation('slow');
  assert.is(a2.inputText(), 'a2');
  await a2.hang();
  ws.write('slowdata/a.txt', 'a3');
  await a2.aborted();
  await a2.closed();
  const a3 = await stage.nextInvocation('slow');
  assert.is(a3.inputText(), 'a3');
  await finishSlow(a3);
  await w.waitFor(/^ {3}cycle 7 /m);
  assert.match(w.block(6), /cancelled \(inputs changed, scheduled again\): slow/);
  assert.match(w.block(6), /ran: upper \(1 item\)/);
  assert.match(w.block(7), /ran: slow/);
  assert.not.match(w.block(7), /upper/);
  assert.equal(stage.invocations.slice(before).map((inv) => [inv.inputText(), inv.state]), [['a2', 'hung'], ['a3', 'finished']]);
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
  w.run.kill('SIGINT');
  assert.is(await w.exited, 0);
  const r = await ws.pipe(['run']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /done: 2 up to date/);
});

test('--until stops each cycle at a stage and --cycles N exits after N cycles', async () => {
  ws.resetCalls();
  const u = new Watcher(ws.run(['watch', '--until', 'upper', '--debounce', '100', '--cycles', '2']));
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
