// The default study end to end, timed: `pipe run` in a workspace (default: this one), then a table of
// every evaluated model (test accuracy with its 95% CI, macro-F1, shifted-source accuracy, training
// time, ms/image) read from the evaluate/train outputs. Prints Markdown for bench/results/study.md.
//
//   node --import tsx bench/study.ts [--workspace <dir>] [--profile <name>] [-j <n>] [--no-run]
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const workspace = resolve(flag('--workspace') ?? process.cwd());
const profile = flag('--profile');
const jobs = flag('-j') ?? '2';
const runIt = !argv.includes('--no-run');

function runPipe(args: string[]): Promise<{ code: number; seconds: number }> {
  const started = performance.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(workspace, 'bin/pipe.js'), ...args], { cwd: workspace, stdio: 'inherit' });
    child.on('close', (code) => done({ code: code ?? 1, seconds: (performance.now() - started) / 1000 }));
  });
}

const pct = (x: number | null | undefined) => (x == null ? 'n/a' : `${(x * 100).toFixed(1)}%`);

interface Metrics {
  status: string;
  reason?: string;
  arch: string;
  mode: string;
  primarySource: string;
  test: { n: number; accuracy: number | null; accuracyCi: { low: number; high: number } | null; macroF1: number | null } | null;
  sources: Record<string, { n: number; accuracy: number | null }>;
  inference?: { msPerImage: number };
}

const lines: string[] = [];
let wall: number | null = null;
if (runIt) {
  const args = ['run', '-j', jobs, ...(profile ? ['--profile', profile] : [])];
  const first = await runPipe(args);
  if (first.code !== 0) {
    console.error(`pipe ${args.join(' ')} failed with exit code ${first.code}`);
    process.exit(first.code);
  }
  wall = first.seconds;
  const second = await runPipe(args);
  lines.push(`- \`npx pipe ${args.join(' ')}\`: **${(wall / 60).toFixed(1)} min** wall (${wall.toFixed(0)} s); immediate second run: ${second.seconds.toFixed(1)} s`);
}
lines.push(`- machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`);

const stagesDir = join(workspace, 'artifacts', 'stages');
if (!existsSync(stagesDir)) {
  console.error(`${stagesDir}: no outputs; run the pipeline first`);
  process.exit(1);
}
const rows: string[] = [];
const evaluations = readdirSync(stagesDir).filter((d) => d.startsWith('evaluate[')).sort();
for (const dir of evaluations) {
  const file = join(stagesDir, dir, 'metrics.json');
  if (!existsSync(file)) continue;
  const m = JSON.parse(readFileSync(file, 'utf8')) as Metrics;
  const trainDir = join(stagesDir, dir.replace(/^evaluate/, 'train'), 'train.json');
  const t = existsSync(trainDir) ? (JSON.parse(readFileSync(trainDir, 'utf8')) as { seconds?: { wall: number }; epochs?: { completed: number; kept: number | null }; inputSize?: number }) : null;
  if (m.status !== 'evaluated' || !m.test) {
    rows.push(`| ${m.arch} | ${m.mode} | skipped: ${m.reason ?? ''} | | | | | |`);
    continue;
  }
  const shifted = Object.values(m.sources)
    .filter((s) => s !== m.sources[m.primarySource])
    .map((s) => `${(s as { source?: string }).source ?? ''} ${pct(s.accuracy)}`)
    .join(', ');
  const ci = m.test.accuracyCi ? `[${pct(m.test.accuracyCi.low)}, ${pct(m.test.accuracyCi.high)}]` : '';
  rows.push(
    `| ${m.arch} | ${m.mode} | ${pct(m.test.accuracy)} ${ci} (n=${m.test.n}) | ${m.test.macroF1?.toFixed(3) ?? 'n/a'} | ${shifted} | ` +
      `${t?.inputSize ?? ''} | ${t?.epochs ? `${t.epochs.completed} (kept ${t.epochs.kept})` : ''} / ${t?.seconds?.wall ?? '?'} s | ${m.inference?.msPerImage?.toFixed(2) ?? ''} |`,
  );
}
console.log(lines.join('\n'));
console.log('\n| arch | mode | test accuracy [95% CI] | macro-F1 | shifted-source accuracy | input px | epochs / train wall | ms/image |');
console.log('|---|---|---|---|---|---|---|---|');
console.log(rows.join('\n'));
