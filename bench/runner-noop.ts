// Benchmark of the runner's bookkeeping: a pipeline over 5,000 input files (a per-item stage that
// transforms each file, then a whole stage that aggregates), measured as
//   1. the first run, 2. a no-op `pipe run` (beside `make -q` on an equivalent Makefile),
//   3. `pipe run` after adding one input file.
// Run: node --import tsx bench/runner-noop.ts [files=5000] [repeats=5]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const cli = join(repo, 'dist', 'cli.js');
const files = Number(process.argv[2] ?? 5000);
const repeats = Number(process.argv[3] ?? 5);
execFileSync(process.execPath, ['build.mjs'], { cwd: repo });

const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-'));
symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
for (let i = 0; i < files; i++) {
  const d = join(dir, 'data', `d${i % 50}`);
  if (i < 50) mkdirSync(d, { recursive: true });
  writeFileSync(join(d, `f${i}.txt`), `file ${i}\n`);
}
mkdirSync(join(dir, 'stages'));
writeFileSync(
  join(dir, 'stages', 'copy.ts'),
  `import { definePerItemStage } from ${JSON.stringify(join(repo, 'pipeline', 'stage-api.js'))};
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
export default definePerItemStage({
  async processItems(ctx, items) {
    for (const it of items) {
      const out = join(it.outDir, 'out', it.input.rel);
      mkdirSync(dirname(out), { recursive: true });
      copyFileSync(it.input.path, out);
    }
  },
});
`,
);
writeFileSync(
  join(dir, 'pipeline.json'),
  JSON.stringify({
    stages: [
      { id: 'copy', module: 'stages/copy.ts', perItem: true, inputs: ['data/**/*.txt'], outputs: ['out/**'] },
      { id: 'count', command: 'wc -l < "$PIPE_INPUTS" > "$PIPE_OUT/count.txt"', deps: ['copy'], inputs: [{ from: 'copy', glob: 'out/**' }], outputs: ['count.txt'] },
    ],
  }),
);
// The equivalent Makefile: one pattern rule per file, one aggregate over all outputs.
writeFileSync(
  join(dir, 'Makefile'),
  `INPUTS := $(shell find data -name '*.txt')
OUTS := $(patsubst data/%,mk/%,$(INPUTS))
all: mk/count.txt
mk/%.txt: data/%.txt
\t@mkdir -p $(dir $@) && cp $< $@
mk/count.txt: $(OUTS)
\t@ls $(OUTS) | wc -l > $@
`,
);

// Wall time of a command, and its CPU time (user + sys, from GNU time), which a machine shared with
// other work inflates far less than wall time.
const cpuTimes = new Map<string, number[]>();
function time(cmd: string, args: string[], label = ''): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '@@cpu %U %S', cmd, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 && !(cmd === 'make' && args[0] === '-q' && r.status === 1)) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
  }
  const m = /@@cpu ([\d.]+) ([\d.]+)/.exec(String(r.stderr));
  if (label && m) cpuTimes.set(label, [...(cpuTimes.get(label) ?? []), (Number(m[1]) + Number(m[2])) * 1000]);
  return ms;
}
const cpu = (label: string) => fmt(median(cpuTimes.get(label) ?? [NaN]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

const first = time(process.execPath, [cli, 'run']);
console.error(`first run: ${fmt(first)}`);
// Bring make's outputs up to date cheaply (one copy, aggregate written last) instead of 5,000 recipe shells.
execFileSync('bash', ['-c', 'cp -r data mk && sleep 1 && make -s mk/count.txt'], { cwd: dir });
const noop: number[] = [];
const make: number[] = [];
for (let i = 0; i < repeats; i++) {
  noop.push(time(process.execPath, [cli, 'run'], 'noop'));
  make.push(time('make', ['-q'], 'make'));
}
// npx's own start-up, measured in the repo root (where `npx pipe` resolves to this package's bin).
const npxT0 = process.hrtime.bigint();
spawnSync('npx', ['--no-install', 'pipe', '--version'], { cwd: repo, stdio: 'ignore' });
const npxVersion = Number(process.hrtime.bigint() - npxT0) / 1e6;
const versionOnly = time(process.execPath, [cli, '--version'], 'version');
const addOne: number[] = [];
const makeAddOne: number[] = [];
for (let i = 0; i < 3; i++) {
  writeFileSync(join(dir, 'data', 'd0', `added-${i}.txt`), `added ${i}\n`);
  addOne.push(time(process.execPath, [cli, 'run'], 'add'));
  makeAddOne.push(time('make', ['-s'], 'makeadd'));
}
const nodeStart = median(Array.from({ length: 3 }, () => time(process.execPath, ['-e', '0'], 'node')));
let load = '';
try {
  load = (await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
} catch {}

console.log(`# runner benchmark: ${files} input files, ${cpus().length} cores, ${new Date().toISOString()}`);
console.log(`load average at the end: ${load} (the machine was shared with other work)\n`);
console.log(`| measurement | wall time | CPU time (user+sys) |\n|---|---|---|`);
console.log(`| first \`pipe run\` (${files} items, -j ${cpus().length}) | ${fmt(first)} | |`);
console.log(`| no-op \`node bin/pipe.js run\` (median of ${repeats}; all: ${noop.map(fmt).join(', ')}) | ${fmt(median(noop))} | ${cpu('noop')} |`);
console.log(`| \`npx pipe --version\` in the repo root vs \`node bin/pipe.js --version\` (npx's own overhead) | ${fmt(npxVersion)} vs ${fmt(versionOnly)} | – vs ${cpu('version')} |`);
console.log(`| \`make -q\` on the equivalent Makefile (median of ${repeats}; all: ${make.map(fmt).join(', ')}) | ${fmt(median(make))} | ${cpu('make')} |`);
console.log(`| \`pipe run\` after adding one input file (median of 3; all: ${addOne.map(fmt).join(', ')}) | ${fmt(median(addOne))} | ${cpu('add')} |`);
console.log(`| \`make\` after adding one input file (median of 3) | ${fmt(median(makeAddOne))} | ${cpu('makeadd')} |`);
console.log(`| \`node -e 0\` (Node start-up, for scale) | ${fmt(nodeStart)} | ${cpu('node')} |`);
rmSync(dir, { recursive: true, force: true });
