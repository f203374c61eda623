import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { controlledItemsStage, RIG_ENV, stageModule, upperStage, Workspace } from './rig.js';

const ws = new Workspace({
  'pipeline.json': {
    stages: [
      { id: 'upper', module: 'stages/upper.ts', perItem: true, inputs: ['data/**/*.txt'], outputs: ['up/**', 'summary.json'] },
      {
        id: 'len', module: 'stages/len.ts', perItem: true, deps: ['upper'], matrix: { scale: [1, 10] },
        inputs: [{ from: 'upper', glob: 'up/**/*.txt' }], params: { scale: '${matrix.scale}' }, outputs: ['len/**'],
      },
    ],
  },
  'stages/upper.ts': upperStage,
  // A second per-item stage downstream, to check that one new upstream item is one item of work here too.
  'stages/len.ts': stageModule('length.ts'),
  'stages/lib/suffix.ts': "export const suffix = '';\n",
  ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`data/c${i % 2}/f${i}.txt`, 'x'.repeat(i + 1)])),
});

test('matrix instances are named stage[axis=value] and each gets its matrix value as a typed param', async () => {
  const r = await ws.pipe(['run', '-j', '2']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /ran\s+len\[scale=1\]/);
  assert.match(r.stdout, /ran\s+len\[scale=10\]/);
  assert.is(ws.read('artifacts/stages/len[scale=10]/len/up/data/c1/f3.txt.n'), '40');
  assert.is(ws.read('artifacts/stages/len[scale=1]/len/up/data/c1/f3.txt.n'), '4');
  assert.is(ws.calls().filter((c) => c.startsWith('item upper')).length, 12);
  assert.is(JSON.parse(ws.read('artifacts/stages/upper/summary.json')).items, 12);
});

test('adding one input file is one item of work in every per-item stage downstream', async () => {
  ws.write('data/c0/new.txt', 'new');
  ws.resetCalls();
  const r = await ws.pipe(['run']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(ws.calls().sort(), [
    'finalize upper',
    'item len[scale=10] up/data/c0/new.txt',
    'item len[scale=1] up/data/c0/new.txt',
    'item upper data/c0/new.txt',
  ]);
  assert.match(r.stdout, /ran\s+upper .*\(items: 1 ran, 12 cached\)/);
  assert.is(ws.read('artifacts/stages/len[scale=10]/len/up/data/c0/new.txt.n'), '30');
});

test('deleting one input removes exactly its derived outputs, without processing any item', async () => {
  ws.remove('data/c1/f5.txt');
  ws.resetCalls();
  const r = await ws.pipe(['run']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(ws.calls(), ['finalize upper']);
  assert.match(r.stdout, /\(items: 0 ran, 12 cached, 1 removed\)/);
  assert.is(ws.exists('artifacts/stages/upper/up/data/c1/f5.txt'), false);
  assert.is(ws.exists('artifacts/stages/len[scale=1]/len/up/data/c1/f5.txt.n'), false);
  assert.is(ws.exists('artifacts/stages/len[scale=1]/len/up/data/c1/f3.txt.n'), true);
});

test('targets select one instance and what it needs; profiles replace a matrix', async () => {
  ws.write('pipeline.json', { ...JSON.parse(ws.read('pipeline.json')), profiles: { big: { description: 'scale 100 only', matrix: { len: { scale: [100] } } } } });
  ws.resetCalls();
  const r = await ws.pipe(['run', 'len[scale=100]', '--profile', 'big']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /up to date\s+upper/);
  assert.is(ws.calls().filter((c) => c.startsWith('item len[scale=100]')).length, 12);
  assert.is(ws.read('artifacts/stages/len[scale=100]/len/up/data/c1/f3.txt.n'), '400');
});

test('pipe <command> runs a defineCommand module with argv and the current output dirs', async () => {
  ws.write('stages/show.ts', stageModule('show.ts'));
  ws.write('pipeline.json', { ...JSON.parse(ws.read('pipeline.json')), commands: { show: { module: 'stages/show.ts', description: 'show an instance' } } });
  const r = await ws.pipe(['show', 'upper']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /len\[scale=1\] len\[scale=10\]/);
  assert.match(r.stdout, /\{"items":12\}/);
  const missing = await ws.pipe(['show', 'len[scale=7]']);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /show: len\[scale=7\] has no current outputs; run `npx pipe run 'len\[scale=7\]'` first/);
  const help = await ws.pipe(['--help']);
  assert.match(help.stdout, /show\s+show an instance/);
});

test('dag prints text and Mermaid', async () => {
  const r = await ws.pipe(['dag', '--mermaid']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^flowchart TD\n  n0\["upper"\]/);
  assert.match(r.stdout, /n0 --> n1\n  n0 --> n2/);
});


test('skipAllItems: a reason means no item is read, finalize sees none, and turning it off processes them all', async () => {
  const gated = new Workspace({
    'pipeline.json': { stages: [{ id: 'gated', module: 'stages/gated.ts', perItem: true, inputs: ['data/*.txt'], params: { off: true }, outputs: ['copy/**', 'count.json'] }] },
    // A per-item stage that can tell up front that no item needs work (like features without weights).
    'stages/gated.ts': stageModule('skippable.ts'),
    ...Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`data/f${i}.txt`, String(i)])),
  });
  try {
    let r = await gated.pipe(['run', '-j', '2']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.equal(gated.calls(), ['skip-check', 'finalize 0']);
    assert.match(r.stdout + r.stderr, /no items processed: switched off by params\.off/);
    assert.is(JSON.parse(gated.read('artifacts/stages/gated/count.json')).items, 0);
    assert.is(gated.exists('artifacts/stages/gated/copy'), false);

    gated.resetCalls();
    r = await gated.pipe(['run', '-j', '2', '--set', 'gated.off=false']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    const calls = gated.calls();
    assert.is(calls.filter((c) => c.startsWith('item ')).length, 30);
    assert.is(calls.filter((c) => c === 'skip-check').length, 1);
    assert.is(calls.at(-1), 'finalize 30');
    assert.is(gated.exists('artifacts/stages/gated/copy/data_f7.txt'), true);
  } finally {
    gated.dispose();
  }
});

test('a per-item stage that started with one slot takes a second worker when the stage beside it finishes', async () => {
  // beside, a command (no module to bundle), takes its slot before many can; it ends when the test opens
  // its gate, once many's first chunk is in flight, and that chunk ends only after beside has given its
  // slot back. The end of a chunk is where a per-item stage takes free slots: without growth, one pid.
  const grow = new Workspace({
    'pipeline.json': {
      stages: [
        { id: 'beside', command: 'read _ < beside.gate; echo done > "$PIPE_OUT/x.txt"', outputs: ['x.txt'] },
        { id: 'many', module: 'stages/many.ts', perItem: true, inputs: ['data/*.txt'], outputs: ['out/**'], env: [RIG_ENV] },
      ],
    },
    'stages/many.ts': controlledItemsStage,
    ...Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`data/f${i}.txt`, String(i)])),
  });
  try {
    const gate = grow.gate('beside.gate');
    const stage = await grow.controlled();
    const run = grow.run(['run', '-j', '2']);
    const first = await stage.nextInvocation('many');
    gate.open();
    await run.waitFor(/ran\s+beside/, 'beside to finish'); // printed as its slot is released
    await first.finish();
    stage.finishAll();
    const r = await run.result;
    assert.is(r.code, 0, r.stdout + r.stderr);
    const chunks = stage.invocations.filter((inv) => inv.stageId === 'many');
    const pids = new Set(chunks.map((inv) => inv.pid));
    assert.is(chunks.flatMap((inv) => inv.items).length, 80);
    assert.is(pids.size, 2, `items ran in ${pids.size} process(es)`);
  } finally {
    grow.dispose();
  }
});

test('finalize may read the items\' outputs but not write to them: the instance fails naming the file, and the store stays sound', async () => {
  const ws2 = new Workspace({
    'pipeline.json': { stages: [{ id: 'w', module: 'stages/w.ts', perItem: true, inputs: ['data/*.txt'], params: { tamper: false }, outputs: ['out/**', 'all.txt'] }] },
    'stages/w.ts': stageModule('finalize-writer.ts'),
    'data/a.txt': 'a',
    'data/b.txt': 'b',
  });
  try {
    let r = await ws2.pipe(['run']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.is(ws2.read('artifacts/stages/w/all.txt'), 'item a,item b');
    r = await ws2.pipe(['run', '--set', 'w.tamper=true']);
    assert.is.not(r.code, 0);
    assert.match(r.stdout + r.stderr, /finalize wrote to out\/data_a\.txt, an item's output/);
    // The damaged object was dropped: the untampered run is redone from scratch, and its outputs are right.
    r = await ws2.pipe(['run']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.is(ws2.read('artifacts/stages/w/out/data_a.txt'), 'item a');
    assert.is(ws2.read('artifacts/stages/w/all.txt'), 'item a,item b');
  } finally {
    ws2.dispose();
  }
});

test.after(() => ws.dispose());
// Every item writes the same bytes: the store already holds the object after the first, so the later
// items' files are not moved into it. Item folders are reused chunk after chunk; a file left behind
// would be counted as the next item's output.
test('items that write identical bytes each own exactly their file, with one worker folder per chunk place', async () => {
  const same = new Workspace({
    'pipeline.json': { stages: [{ id: 'same', module: 'stages/same.ts', perItem: true, inputs: ['data/*.txt'], outputs: ['same/**'] }] },
    'stages/same.ts': stageModule('identical.ts'),
    ...Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`data/f${i}.txt`, String(i)])),
  });
  const r = await same.pipe(['run', '-j', '1']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /ran\s+same .*\(items: 9 ran, 0 cached\)/);
  for (let i = 0; i < 9; i++) assert.is(same.read(`artifacts/stages/same/same/data/f${i}.txt.txt`), 'identical');
  const again = await same.pipe(['run', '-j', '1']);
  assert.match(again.stdout, /up to date/, again.stdout);
});

test.run();
