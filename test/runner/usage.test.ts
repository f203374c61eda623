// What a run records of its stage processes' CPU time and memory (the manifest, the plain log, explain):
// stages that burn a known amount of CPU — in the stage process, in two per-item workers, in a shell
// command's child — must be charged at least that much.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stageApi, Workspace } from './rig.js';

const burn = `const spin = (ms) => { const t0 = process.cpuUsage(); for (;;) { const u = process.cpuUsage(t0); if ((u.user + u.system) / 1000 >= ms) return; } };`;

const ws = new Workspace({
  'pipeline.json': {
    stages: [
      { id: 'whole', module: 'stages/whole.ts', params: { ms: 400 }, outputs: ['done.txt'] },
      { id: 'items', module: 'stages/items.ts', perItem: true, inputs: ['data/*.txt'], params: { ms: 150 }, outputs: ['out/**'] },
      // The CPU is spent by a grandchild of the stage host (sh → node), which the host waits for through sh.
      { id: 'shell', command: `node -e "${burn.replace(/"/g, '\\"')} spin(400)" && echo ok > "$PIPE_OUT/s.txt"`, outputs: ['s.txt'] },
    ],
  },
  'stages/whole.ts': `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage } from ${JSON.stringify(stageApi)};
${burn}
export default defineStage({ async run(ctx) { spin(ctx.params.ms); writeFileSync(join(ctx.outDir, 'done.txt'), 'ok'); } });
`,
  'stages/items.ts': `import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { definePerItemStage } from ${JSON.stringify(stageApi)};
${burn}
export default definePerItemStage({
  async processItems(ctx, items) {
    for (const it of items) { spin(ctx.params.ms); mkdirSync(join(it.outDir, 'out'), { recursive: true }); writeFileSync(join(it.outDir, 'out', it.input.rel.replace(/\\//g, '_')), 'x'); }
  },
});
`,
  'data/a.txt': 'a',
  'data/b.txt': 'b',
  'data/c.txt': 'c',
  'data/d.txt': 'd',
});

const manifest = (id: string) => {
  const key = (JSON.parse(ws.read('.pipe/current.json')) as Record<string, { key: string }>)[id]!.key;
  return JSON.parse(ws.read(`artifacts/manifests/${key.slice(0, 2)}/${key.slice(2)}.json`)) as { durationMs: number; cpuMs?: number; maxRssMb?: number };
};

test('each instance that ran records the CPU its stage processes used and their peak memory', async () => {
  const r = await ws.pipe(['run', '--plain', '-j', '2']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  for (const [id, atLeast] of [['whole', 400], ['items', 4 * 150], ['shell', 400]] as const) {
    const m = manifest(id);
    assert.ok(m.cpuMs !== undefined && m.cpuMs >= atLeast, `${id}: cpuMs ${m.cpuMs} < ${atLeast}`);
    // A Node process holds tens of MB; a figure in KiB or bytes would be far off.
    assert.ok(m.maxRssMb !== undefined && m.maxRssMb >= 10 && m.maxRssMb < 4096, `${id}: maxRssMb ${m.maxRssMb}`);
    assert.match(r.stdout, new RegExp(`ran\\s+${id}\\s+\\S+ s\\s+\\(cpu [\\d.]+ s, peak \\d+ MB\\)`));
  }
  const total = ['whole', 'items', 'shell'].reduce((s, id) => s + manifest(id).cpuMs!, 0);
  const summary = /done: 3 ran in .* \(stage cpu ([\d.]+) s\)/.exec(r.stdout);
  assert.ok(summary, r.stdout);
  assert.ok(Math.abs(Number(summary[1]) * 1000 - total) < 20, `summary ${summary[1]} s vs instances ${total} ms`);
});

test("explain quotes the last run's CPU time and peak memory; an up-to-date run charges nothing", async () => {
  const ex = await ws.pipe(['explain', 'whole']);
  assert.match(ex.stdout, /last run: .*took [\d.]+ s, cpu [\d.]+ s, peak \d+ MB\)/);
  const r = await ws.pipe(['run', '--plain']);
  assert.is(r.code, 0);
  assert.not.match(r.stdout, /cpu/);
});

test.after(() => ws.dispose());
test.run();
