// A per-item stage that says which inputs it processes at all (wantsItem): the others reach no worker,
// produce nothing, keep no item record, and finalize sees them with no outputs; the choice follows the
// params, and editing a wanted input is one item of work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stageApi, Workspace } from './rig.js';

const stage = `import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { definePerItemStage } from ${JSON.stringify(stageApi)};
export default definePerItemStage({
  wantsItem(ctx) {
    return (input) => Number(/v(\\d+)\\.txt$/.exec(input.rel)?.[1] ?? -1) < ctx.params.variants;
  },
  async processItems(ctx, items) {
    for (const it of items) {
      appendFileSync(join(ctx.workspace, 'calls.log'), 'item ' + it.input.rel + '\\n');
      mkdirSync(join(it.outDir, 'out'), { recursive: true });
      writeFileSync(join(it.outDir, 'out', it.input.rel.replace(/\\//g, '_')), it.input.rel);
    }
  },
  async finalize(ctx, items) {
    writeFileSync(join(ctx.outDir, 'seen.json'), JSON.stringify(items.map((i) => [i.input.rel, i.files.length])));
  },
});
`;

const ws = new Workspace({
  'pipeline.json': { stages: [{ id: 'pick', module: 'stages/pick.ts', perItem: true, inputs: ['data/*.txt'], params: { variants: 1 }, outputs: ['out/**', 'seen.json'] }] },
  'stages/pick.ts': stage,
  'data/a-v0.txt': 'a0',
  'data/a-v1.txt': 'a1',
  'data/a-v2.txt': 'a2',
  'data/b-v0.txt': 'b0',
  'data/b-v1.txt': 'b1',
});

test('inputs the stage does not want are never processed, give no files, and finalize sees them empty', async () => {
  const r = await ws.pipe(['run', '--plain', '-j', '2']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(ws.calls().sort(), ['item data/a-v0.txt', 'item data/b-v0.txt']);
  assert.match(r.stdout, /ran\s+pick\s.*\(items: 2 ran, 0 cached, 3 not wanted\)/);
  assert.equal(ws.list('artifacts/stages/pick/out').sort(), ['data_a-v0.txt', 'data_b-v0.txt']);
  assert.equal(JSON.parse(ws.read('artifacts/stages/pick/seen.json')), [['data/a-v0.txt', 1], ['data/a-v1.txt', 0], ['data/a-v2.txt', 0], ['data/b-v0.txt', 1], ['data/b-v1.txt', 0]]);
});

test('an edit to a wanted input is one item of work; to an unwanted one, none', async () => {
  ws.write('data/a-v0.txt', 'a0 edited');
  ws.write('data/b-v1.txt', 'b1 edited');
  ws.resetCalls();
  const r = await ws.pipe(['run', '--plain']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(ws.calls(), ['item data/a-v0.txt']);
  assert.match(r.stdout, /\(items: 1 ran, 1 cached, 3 not wanted\)/);
  assert.is(ws.read('artifacts/stages/pick/out/data_a-v0.txt'), 'data/a-v0.txt');
});

test('the params decide what is wanted: more variants, the new ones processed and the rest restored', async () => {
  ws.resetCalls();
  const r = await ws.pipe(['run', '--plain', '--set', 'pick.variants=2']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  // New params are a new item key for every input: the four wanted inputs run, a-v2 still does not.
  assert.equal(ws.calls().sort(), ['item data/a-v0.txt', 'item data/a-v1.txt', 'item data/b-v0.txt', 'item data/b-v1.txt']);
  assert.match(r.stdout, /\(items: 4 ran, 0 cached, 1 not wanted\)/);
  ws.resetCalls();
  const back = await ws.pipe(['run', '--plain']);
  assert.is(back.code, 0);
  assert.equal(ws.calls(), []);
  assert.match(back.stdout, /restored\s+pick/);
  assert.equal(ws.list('artifacts/stages/pick/out').sort(), ['data_a-v0.txt', 'data_b-v0.txt']);
});

test.after(() => ws.dispose());
test.run();
