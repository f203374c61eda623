// Scale-out overheads, measured side by side in one run:
//   1. Slurm executor: a chain of 3 no-op shell stages run locally vs as Slurm jobs (per-job overhead
//      of submission, scheduling and the file relay), and an up-to-date run through each executor.
//   2. Remote cache: the smoke profile run locally in clone A (filling an nginx WebDAV cache on
//      loopback), then in a fresh clone B restoring everything from the remote, beside clone A
//      restoring everything from its own local store.
// Needs the one-node test Slurm (test/servers/slurm-up.sh, as root) and nginx.
// Run: node --import tsx bench/scale-out.ts [repeats=3] [smoke targets…]
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWebdav } from '../test/servers/webdav-server.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const repeats = Number(process.argv[2] ?? 3);
/** Targets of the smoke-profile runs (default: the whole DAG). */
const targets = process.argv.slice(3);
execFileSync(process.execPath, ['build.mjs'], { cwd: repo });
execFileSync(join(repo, 'test/servers/slurm-up.sh'), { stdio: 'inherit' });

function pipe(dir: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(repo, 'dist/cli.js'), ...args, '--plain'], { cwd: dir, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' }, maxBuffer: 64 << 20 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`pipe ${args.join(' ')} failed in ${dir}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return ms;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

// 1. Slurm: three chained no-op stages.
const tiny = mkdtempSync(join(tmpdir(), 'pipe-bench-slurm-'));
symlinkSync(join(repo, 'node_modules'), join(tiny, 'node_modules'));
writeFileSync(
  join(tiny, 'pipeline.json'),
  JSON.stringify({
    stages: [
      { id: 'a', command: 'true', outputs: [] },
      { id: 'b', command: 'true', deps: ['a'], outputs: [] },
      { id: 'c', command: 'true', deps: ['b'], outputs: [] },
    ],
  }),
);
const rows: Record<string, number[]> = { 'forced, local': [], 'forced, slurm': [], 'up to date, local': [], 'up to date, slurm': [] };
pipe(tiny, ['run']);
for (let i = 0; i < repeats; i++) {
  rows['forced, local']!.push(pipe(tiny, ['run', '--force', 'a', '--force', 'b', '--force', 'c']));
  rows['forced, slurm']!.push(pipe(tiny, ['run', '--executor', 'slurm', '--force', 'a', '--force', 'b', '--force', 'c']));
  rows['up to date, local']!.push(pipe(tiny, ['run']));
  rows['up to date, slurm']!.push(pipe(tiny, ['run', '--executor', 'slurm']));
}
rmSync(tiny, { recursive: true, force: true });
console.log(`\nSlurm executor, 3 chained no-op stages (median of ${repeats}):`);
console.log('| run | wall |\n|---|---|');
for (const [k, v] of Object.entries(rows)) console.log(`| ${k} | ${s(median(v))} |`);

// 2. Remote cache over the smoke profile.
function clone(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-clone-'));
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of files) if (existsSync(join(repo, f))) cpSync(join(repo, f), join(dir, f), { recursive: true });
  cpSync(join(repo, 'dist'), join(dir, 'dist'), { recursive: true });
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}
const server = await startWebdav();
const a = clone();
const b = clone();
try {
  const smoke = ['run', ...targets, '--profile', 'smoke', '-j', '2', '--remote-cache', server.url];
  const localRun = pipe(a, smoke);
  rmSync(join(a, 'artifacts', 'stages'), { recursive: true, force: true });
  rmSync(join(a, '.pipe', 'current.json'), { force: true });
  const localStore = pipe(a, ['run', ...targets, '--profile', 'smoke', '-j', '2', '--no-remote-cache']);
  const remote = pipe(b, smoke);
  const noop = pipe(b, smoke);
  const bytes = Number(execFileSync('du', ['-sb', server.root], { encoding: 'utf8' }).split('\t')[0]);
  console.log(`\nRemote cache, smoke profile${targets.length ? ` (targets ${targets.join(' ')})` : ''} (-j 2; cache ${(bytes / 1e6).toFixed(1)} MB in nginx WebDAV on loopback):`);
  console.log('| run | wall |\n|---|---|');
  console.log(`| clone A: every stage runs here (and uploads) | ${s(localRun)} |`);
  console.log(`| clone A: everything restored from its local store | ${s(localStore)} |`);
  console.log(`| clone B (fresh): everything restored from the remote cache | ${s(remote)} |`);
  console.log(`| clone B: up to date afterwards | ${s(noop)} |`);
} finally {
  await server.stop();
  rmSync(a, { recursive: true, force: true });
  rmSync(b, { recursive: true, force: true });
}
