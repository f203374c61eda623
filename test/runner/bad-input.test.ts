// Bad or unusual input that must give the expected files or a clear error naming what is wrong.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { disposeAll, stageModule, Workspace } from './rig.js';

// A dataset stage: lists its inputs (workspace-relative where they are inside it).
const dataset = {
  vars: { root: 'data' },
  stages: [{ id: 'list', command: 'sed "s|^$PWD/||" "$PIPE_INPUTS" > "$PIPE_OUT/inputs.txt"', inputs: ['${vars.root}/*/*.txt'], params: { root: '${vars.root}' } }],
};
const listed = (ws: Workspace) => ws.read('artifacts/stages/list/inputs.txt').split('\n').filter(Boolean);

test('dataset roots are paths: glob characters in them are literal; absolute roots and ~ work', async () => {
  const ws = new Workspace({
    'pipeline.json': dataset,
    'mydata/set (v2)/A/1.txt': '1',
    'mydata/set v2/A/decoy.txt': 'x',
    'mydata/set(v2)/B/2.txt': '2',
    'mydata/set[1]/C/3.txt': '3',
    'mydata/set1/C/decoy.txt': 'x',
  });
  const home = new Workspace({ 'ds/D/4.txt': '4' });
  {
    const cases: [string, string[], Record<string, string>?][] = [
      ['mydata/set (v2)', ['mydata/set (v2)/A/1.txt']],
      ['mydata/set(v2)', ['mydata/set(v2)/B/2.txt']],
      ['mydata/set[1]', ['mydata/set[1]/C/3.txt']],
      [ws.path('mydata/set(v2)'), ['mydata/set(v2)/B/2.txt']],
    ];
    cases.push([home.path('ds'), [home.path('ds/D/4.txt')]]);
    cases.push(['~/ds', [home.path('ds/D/4.txt')], { HOME: home.dir }]);
    for (const [root, expected, env] of cases) {
      const r = await ws.pipe(['run', '--set', `vars.root=${root}`], env);
      assert.is(r.code, 0, `${root}: ${r.stdout}${r.stderr}`);
      assert.equal(listed(ws), expected, root);
    }
  }
});

test('a dataset stage whose inputs match nothing fails, naming the pattern and the folder', async () => {
  const ws = new Workspace({ 'pipeline.json': dataset, 'data/A/1.txt': '1', 'empty/x.md': '' });
  let r = await ws.pipe(['run', '--set', 'vars.root=nowhere']);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /FAILED\s+list[\s\S]*list: its inputs match no file\n\s+"nowhere\/\*\/\*\.txt": folder nowhere \(\S+\/nowhere\) does not exist/);
  assert.is(ws.exists('artifacts/stages/list'), false);
  r = await ws.pipe(['run', '--set', 'vars.root=empty']);
  assert.is(r.code, 1);
  assert.match(r.stdout, /"empty\/\*\/\*\.txt": folder empty \(\S+\) exists but holds no match/);
  r = await ws.pipe(['run', '-n', '--set', 'vars.root=empty']);
  assert.is(r.code, 1, 'a dry run reports it too');
  assert.match(r.stdout, /its inputs match no file/);
});

test('a file name holding a newline is left out by name, with a warning; the rest of the run goes on', async () => {
  const ws = new Workspace({
    'pipeline.json': { vars: { root: 'data' }, stages: [dataset.stages[0], { id: 'copy', module: 'stages/copy.ts', perItem: true, inputs: ['data/**/*'], outputs: ['copy/**'] }] },
    'stages/copy.ts': stageModule('copy.ts'),
    'data/A/ok.txt': '1',
    'data/A/bad\nname.txt': '2',
  });
  const r = await ws.pipe(['run']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  for (const id of ['list', 'copy']) assert.match(r.stderr, `warning: ${id}: input "data/A/bad\\nname.txt" left out: its name holds a newline (rename the file to use it)`);
  assert.equal(listed(ws), ['data/A/ok.txt']);
  assert.equal(ws.list('artifacts/stages/copy/copy/data/A'), ['ok.txt']);
  const s = await ws.pipe(['status']);
  assert.match(s.stderr, /input "data\/A\/bad\\nname\.txt" left out/, 'pipe status says so too');
});

test('params are checked against the stage schema before anything runs; unknown --set keys are rejected; enum errors list the values', async () => {
  const ws = new Workspace({
    'pipeline.json': { stages: [{ id: 'first', command: 'echo first >> calls.log' }, { id: 'fit', module: 'stages/fit.ts', deps: ['first'], params: { tag: 'x', mode: 'c' } }] },
    'stages/fit.ts': stageModule('schema-fit.ts'),
  });
  let r = await ws.pipe(['run']);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /fit: invalid params:\n\s+params\.mode: must be one of "a", "b"/);
  assert.match(r.stderr, /nothing was run/);
  assert.equal(ws.calls(), [], 'no stage ran before the check');
  r = await ws.pipe(['status']);
  assert.is.not(r.code, 0, 'pipe status reports it too, not "would run"');
  assert.match(r.stderr, /params\.mode: must be one of "a", "b"/);
  r = await ws.pipe(['run', '--set', 'fit.mode=a', '--set', 'fit.tga=y']);
  assert.match(r.stderr, /--set fit\.tga=y: stage "fit" has no param "tga" \(params: mode, tag\)/);
  r = await ws.pipe(['run', '--set', 'fit.mode=a', '--set', 'fit.tag=5']);
  assert.match(r.stderr, /params\.tag: must be string/);
  assert.equal(ws.calls(), []);
  r = await ws.pipe(['run', '--set', 'fit.mode=b']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(ws.calls(), ['first', 'fit']);
});

test('a misspelt param key in pipeline.json itself (a stage\'s params, a profile\'s) is rejected before anything runs, at its line:col', async () => {
  const ws = new Workspace({
    'pipeline.json': {
      stages: [{ id: 'first', command: 'echo first >> calls.log' }, { id: 'fit', module: 'stages/fit.ts', deps: ['first'], params: { tag: 'x', tga: 'y' } }],
      profiles: { quick: { description: 'a typo in a profile', params: { 'fit.mdoe': 'a' } } },
    },
    'stages/fit.ts': stageModule('schema-fit.ts'),
  });
  // Line and column of a property name in the file as written (JSON.stringify with 2 spaces).
  const where = (name: string) => {
    const lines = ws.read('pipeline.json').split('\n');
    const line = lines.findIndex((l) => l.includes(`"${name}"`));
    return `${line + 1}:${lines[line]!.indexOf(`"${name}"`) + 1}`;
  };
  for (const args of [['run'], ['status']]) {
    const r = await ws.pipe(args);
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, `pipeline.json:${where('tga')}: stage "fit" has no param "tga" (params: mode, tag)`);
    assert.match(r.stderr, /nothing was run/);
  }
  assert.equal(ws.calls(), [], 'no stage ran before the check');
  const fixed = JSON.parse(ws.read('pipeline.json'));
  delete fixed.stages[1].params.tga;
  ws.write('pipeline.json', fixed);
  let r = await ws.pipe(['run', '--profile', 'quick']);
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, `pipeline.json:${where('fit.mdoe')}: profile "quick" params["fit.mdoe"]: stage "fit" has no param "mdoe" (params: mode, tag)`);
  assert.equal(ws.calls(), []);
  r = await ws.pipe(['run']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(ws.calls(), ['first', 'fit']);
});

test('pipeline.json syntax: a trailing comma is named at its own line; a truncated file is reported once, as such', async () => {
  const ws = new Workspace({ 'pipeline.json': '{\n  "stages": [\n    { "id": "a", "command": "true",\n    }\n  ]\n}\n' });
  let r = await ws.pipe(['run', '-n']);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /pipeline\.json:3:\d+: JSON syntax error: trailing comma/);
  ws.write('pipeline.json', '{\n  "stages": [\n    { "id": "a", "command": "true" }');
  r = await ws.pipe(['run', '-n']);
  assert.is.not(r.code, 0);
  assert.is(r.stderr.match(/JSON syntax error/g)?.length, 1, r.stderr);
  assert.match(r.stderr, /pipeline\.json:3:\d+: JSON syntax error: the file ends early/);
});

test.after(disposeAll);
test.run();
