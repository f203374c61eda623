import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { disposeAll, Workspace } from './rig.js';

const cmd = (id: string, extra: object = {}) => ({ id, command: 'true', ...extra });

async function problems(pipeline: string | object, args: string[] = ['run', '--dry-run']): Promise<string> {
  const ws = new Workspace({ 'pipeline.json': pipeline });
  try {
    const r = await ws.pipe(args);
    assert.is.not(r.code, 0, `expected a failure, got: ${r.stdout}`);
    assert.is(ws.exists('artifacts'), false, 'nothing may be written before validation passes');
    return r.stderr;
  } finally {
    ws.dispose();
  }
}

test('JSON syntax errors give line:column', async () => {
  const err = await problems('{\n  "stages": [\n    { "id": "a", }\n  ]\n}\n');
  assert.match(err, /pipeline\.json:3:\d+: JSON syntax error/);
});

test('schema violations name the JSON path, line:column and what was expected', async () => {
  const text = JSON.stringify({ stages: [cmd('a'), { id: 'b', command: 'true', resources: { gpu: 'one' } }, { id: 'c', command: 'x', colour: 1 }] }, null, 2);
  const err = await problems(text);
  assert.match(err, /pipeline\.json:\d+:\d+: stages\[1\]\.resources\.gpu: must be integer/);
  assert.match(err, /pipeline\.json:\d+:\d+: stages\[2\]: has unknown field "colour"/);
  const line = Number(/stages\[2\]: has unknown field/.test(err) ? /pipeline\.json:(\d+):\d+: stages\[2\]: has unknown/.exec(err)![1] : 0);
  assert.is(text.split('\n')[line - 1]!.trim().startsWith('"colour"') || text.split('\n')[line - 1]!.includes('{'), true);
});

test('a stage needs exactly one of module and command', async () => {
  const err = await problems({ stages: [{ id: 'a' }] });
  assert.match(err, /stages\[0\]: must match exactly one form \(needs field "module"; or needs field "command"\)/);
});

test('duplicate ids', async () => {
  const err = await problems({ stages: [cmd('a'), cmd('a')] });
  assert.match(err, /pipeline\.json:\d+:\d+: duplicate stage id "a" \(first defined as stages\[0\]\)/);
});

test('unknown dependencies, with the stages that exist', async () => {
  const err = await problems({ stages: [cmd('a', { deps: ['nope'] })] });
  assert.match(err, /stage "a": unknown dependency "nope" \(stages: a\)/);
});

test('a selector that matches no instance is an error unless optional', async () => {
  const stages = [cmd('w', { matrix: { arch: ['x'] } }), cmd('t', { matrix: { arch: ['x', 'y'] }, deps: ['w[arch=${matrix.arch}]'] })];
  const err = await problems({ stages });
  assert.match(err, /t\[arch=y\]: dependency "w\[arch=y\]" matches no instance of "w" \(it has w\[arch=x\]\); add "\?" to make it optional/);
  const ws = new Workspace({ 'pipeline.json': { stages: [stages[0], { ...stages[1], deps: ['w[arch=${matrix.arch}]?'] }] } });
  const dag = await ws.pipe(['dag']);
  ws.dispose();
  assert.is(dag.code, 0, dag.stderr);
  assert.match(dag.stdout, /t\[arch=x\]  \(command\)\n  ← w\[arch=x\]\nt\[arch=y\]  \(command\)\n(?!  ←)/);
});

test('matrix.from with several stages mirrors the instances of each, and refuses a combination given twice', async () => {
  const stages = [
    cmd('t', { matrix: { arch: ['x', 'y'], mode: ['a'] } }),
    cmd('e', { matrix: { include: [{ arch: 'x', mode: 'ens' }] }, deps: ['t'] }),
    cmd('v', { matrix: { from: ['t', 'e'] }, deps: ['t[arch=${matrix.arch},mode=${matrix.mode}]?', 'e[arch=${matrix.arch},mode=${matrix.mode}]?'] }),
  ];
  const ws = new Workspace({ 'pipeline.json': { stages } });
  const dag = await ws.pipe(['dag']);
  ws.dispose();
  assert.is(dag.code, 0, dag.stderr);
  assert.match(dag.stdout, /v\[arch=x,mode=a\]  \(command\)\n  ← t\[arch=x,mode=a\]\n/);
  assert.match(dag.stdout, /v\[arch=y,mode=a\]  \(command\)\n  ← t\[arch=y,mode=a\]\n/);
  assert.match(dag.stdout, /v\[arch=x,mode=ens\]  \(command\)\n  ← e\[arch=x,mode=ens\]\n?$/);
  const twice = await problems({ stages: [stages[0], cmd('e', { matrix: { include: [{ arch: 'x', mode: 'a' }] } }), stages[2]] });
  assert.match(twice, /stage "v": matrix\.from gives v\[arch=x,mode=a\] twice/);
});

test('a matrix axis "${vars.x}" takes the list kept in vars: one list for several stages, changed by --set; a var that is not a list is an error', async () => {
  const pipeline = {
    vars: { archs: ['x', 'y'], one: 'x' },
    stages: [
      cmd('w', { matrix: { arch: '${vars.archs}' } }),
      cmd('f', { matrix: { arch: '${vars.archs}', size: [1] }, deps: ['w[arch=${matrix.arch}]'] }),
    ],
  };
  const ws = new Workspace({ 'pipeline.json': pipeline });
  const dag = await ws.pipe(['dag']);
  const narrowed = await ws.pipe(['dag', '--set', 'vars.archs=["y"]']);
  ws.dispose();
  assert.is(dag.code, 0, dag.stderr);
  assert.match(dag.stdout, /f\[arch=x,size=1\]  \(command\)\n  ← w\[arch=x\]/);
  assert.match(dag.stdout, /f\[arch=y,size=1\]  \(command\)\n  ← w\[arch=y\]/);
  assert.is(narrowed.code, 0, narrowed.stderr);
  assert.not.match(narrowed.stdout, /arch=x/);
  assert.match(narrowed.stdout, /f\[arch=y,size=1\]/);
  const notList = await problems({ vars: { one: 'x' }, stages: [cmd('w', { matrix: { arch: '${vars.one}' } })] });
  assert.match(notList, /pipeline\.json:\d+:\d+: stage "w": matrix\.arch "\$\{vars\.one\}" must name a list/);
  const unknown = await problems({ vars: { one: 'x' }, stages: [cmd('w', { matrix: { arch: '${vars.nope}' } })] });
  assert.match(unknown, /stage "w": matrix\.arch "\$\{vars\.nope\}"/);
});

test('cycles are reported with their path', async () => {
  const err = await problems({ stages: [cmd('a', { deps: ['c'] }), cmd('b', { deps: ['a'] }), cmd('c', { deps: ['b'] })] });
  assert.match(err, /dependency cycle: (a → c → b → a|c → b → a → c|b → a → c → b)/);
});

test('a matrix that expands to nothing', async () => {
  const err = await problems({ stages: [cmd('a', { matrix: { arch: ['x'], exclude: [{ arch: 'x' }] } })] });
  assert.match(err, /pipeline\.json:\d+:\d+: stage "a": matrix expands to no instance/);
});

test('output paths claimed by two stages (publish folders)', async () => {
  const err = await problems({ stages: [cmd('a', { publish: 'reports' }), cmd('b', { publish: 'reports/b' }), cmd('m', { matrix: { k: [1, 2] }, publish: 'out/m' })] });
  assert.match(err, /output path "reports\/b" of b is also claimed by a \("reports"\)/);
  assert.match(err, /output path "out\/m" of m\[k=2\] is also claimed by m\[k=1\]/);
});

test('inputs from a stage that is not a dep; unknown profile; --set of an unknown stage', async () => {
  const err = await problems({ stages: [cmd('a'), cmd('b', { inputs: [{ from: 'a', glob: '**' }] })] });
  assert.match(err, /b: inputs from "a", which is not in its deps/);
  const err2 = await problems({ stages: [cmd('a')], profiles: { paper: {} } }, ['run', '--profile', 'nope']);
  assert.match(err2, /unknown profile "nope" \(profiles: paper\)/);
  const err3 = await problems({ stages: [cmd('a')] }, ['run', '--set', 'zz.k=1']);
  assert.match(err3, /--set zz\.k=1: unknown stage "zz"/);
});

test('vars: one value shared by several stages, set by a profile or --set; unknown vars and a stage named vars are errors', async () => {
  const pipeline = {
    vars: { root: 'one' },
    stages: [
      cmd('a', { command: 'ls ${params.root} > "$PIPE_OUT/a.txt"', params: { root: '${vars.root}' }, inputs: ['${vars.root}/*.txt'], outputs: ['a.txt'] }),
      cmd('b', { command: 'echo ${params.where} > "$PIPE_OUT/b.txt"', params: { where: 'from ${vars.root}' }, outputs: ['b.txt'] }),
    ],
    profiles: { two: { description: 'the other folder', params: { 'vars.root': 'two' } } },
  };
  const ws = new Workspace({ 'pipeline.json': pipeline, 'one/x.txt': 'x', 'two/y.txt': 'y' });
  try {
    let r = await ws.pipe(['run']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.is(ws.read('artifacts/stages/a/a.txt'), 'x.txt\n');
    assert.is(ws.read('artifacts/stages/b/b.txt'), 'from one\n');
    r = await ws.pipe(['run', '--profile', 'two']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.is(ws.read('artifacts/stages/a/a.txt'), 'y.txt\n');
    assert.is(ws.read('artifacts/stages/b/b.txt'), 'from two\n');
    r = await ws.pipe(['run', '--set', 'vars.root=one']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /restored\s+a/);
  } finally {
    ws.dispose();
  }
  assert.match(await problems(pipeline, ['run', '--set', 'vars.rot=two']), /--set vars\.rot=two: unknown var "rot" \(vars: root\)/);
  assert.match(await problems({ stages: [cmd('vars')] }), /the stage id "vars" is reserved/);
});

test('a missing stage module is a clear error naming the stage; other stages still run', async () => {
  const ws = new Workspace({
    'pipeline.json': { stages: [{ id: 'ghost', module: 'stages/ghost.ts' }, { id: 'ok', command: 'echo ok >> calls.log' }] },
  });
  const r = await ws.pipe(['run', 'ok']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(ws.calls(), ['ok']);
  const r2 = await ws.pipe(['run', 'ghost']);
  assert.is(r2.code, 1);
  assert.match(r2.stdout, /FAILED\s+ghost[\s\S]*stage "ghost": module stages\/ghost\.ts does not exist/);
  ws.dispose();
});

test.after(disposeAll);
test.run();
