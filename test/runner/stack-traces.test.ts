// A module stage (or command) that throws: its stack trace names the TypeScript source and line
// (the bundle's inline source map), not the .pipe/bundles/*.mjs file the runner actually loaded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { disposeAll, stageApi, Workspace } from './rig.js';

// Line 3 of the helper throws; line 7 of the stage calls it.
const helper = ['// a helper two files away from the stage', 'export function explode(what: string): never {', '  throw new Error(`exploded on ${what}`);', '}', ''].join('\n');
const stage = [
  `import { defineStage } from ${JSON.stringify(stageApi)};`,
  "import { explode } from './lib/explode.js';",
  '',
  'export default defineStage({',
  '  async run() {',
  "    const what: string = 'purpose';",
  '    explode(what);',
  '  },',
  '});',
  '',
].join('\n');
const command = [
  `import { defineCommand } from ${JSON.stringify(stageApi)};`,
  "import { explode } from '../stages/lib/explode.js';",
  'export default defineCommand({',
  '  async run() {',
  "    explode('command');",
  '  },',
  '});',
  '',
].join('\n');

test('a throwing module stage or command: the stack shows stages/<file>.ts:line, not the bundle', async () => {
  const ws = new Workspace({
    'pipeline.json': { stages: [{ id: 'boom', module: 'stages/boom.ts' }], commands: { boom: { module: 'commands/boom.ts' } } },
    'stages/boom.ts': stage,
    'stages/lib/explode.ts': helper,
    'commands/boom.ts': command,
  });
  const r = await ws.pipe(['run', '--plain']);
  assert.is(r.code, 1, r.stdout + r.stderr);
  const out = r.stdout + r.stderr;
  assert.match(out, /FAILED\s+boom[\s\S]*Error: exploded on purpose/);
  assert.match(out, /at explode \(\S*\/stages\/lib\/explode\.ts:3:\d+\)/);
  assert.match(out, /\S*\/stages\/boom\.ts:7:\d+/);
  assert.not.match(out, /\.pipe\/bundles/);
  const c = await ws.pipe(['boom']);
  assert.is.not(c.code, 0);
  assert.match(c.stderr, /Error: exploded on command/);
  assert.match(c.stderr, /at explode \(\S*\/stages\/lib\/explode\.ts:3:\d+\)/);
  assert.match(c.stderr, /\S*\/commands\/boom\.ts:5:\d+/);
  assert.not.match(c.stderr, /\.pipe\/bundles/);
});

test.after(disposeAll);
test.run();
