// Bench: time from dropping one new image into an N-image dataset to the updated audit, with
// `pipe watch --until audit` running. Builds a throwaway workspace from this repo's pipeline.json and
// stages and N images of the full PBC subset (/work/shared/data/pbc_wbc4/images), runs the initial
// cycle (not timed), then copies one more image in and times until the cycle's block is printed.
//   nice node --import tsx bench/watch-drop-image.ts [N=5000] [repeats=3] [--set stage.param=value …]
// (--set goes to `pipe watch`; e.g. --set audit.allowCrossSplitDuplicates=true when the images chosen
// contain a duplicate pair that the split puts on both sides, as the 4,790-image subset does).
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const source = '/work/shared/data/pbc_wbc4/images';
const positional: string[] = [];
const overrides: string[] = [];
for (let i = 2; i < process.argv.length; i++) {
  const arg = process.argv[i]!;
  if (arg === '--set') overrides.push('--set', process.argv[++i] ?? '');
  else positional.push(arg);
}
const n = Number(positional[0] ?? 5000);
const repeats = Number(positional[1] ?? 3);
const classes = readdirSync(source).sort();
const pool = classes.map((c) => readdirSync(join(source, c)).filter((f) => /\.jpe?g$/i.test(f)).sort());
const available = pool.reduce((s, l) => s + l.length, 0);
if (n + repeats > available) throw new Error(`only ${available} images in ${source}; ask for fewer than ${available - repeats}`);

const ws = mkdtempSync(join(tmpdir(), 'pipe-watch-bench-'));
for (const f of ['pipeline.json', 'package.json', 'package-lock.json', 'tsconfig.json']) copyFileSync(join(repo, f), join(ws, f));
for (const d of ['stages', 'pipeline', 'schemas']) cpSync(join(repo, d), join(ws, d), { recursive: true });
symlinkSync(join(repo, 'node_modules'), join(ws, 'node_modules'));
mkdirSync(join(ws, 'data'));
for (const d of ['weights', 'bccd', 'imagenet-samples']) symlinkSync(join(repo, 'data', d), join(ws, 'data', d), 'dir');
// Round-robin over classes so the N images stay balanced; the next ones are the drops.
const order: [string, string][] = [];
for (let i = 0; order.length < n + repeats; i++) for (let c = 0; c < classes.length; c++) if (pool[c]![i]) order.push([classes[c]!, pool[c]![i]!]);
for (const c of classes) mkdirSync(join(ws, 'data/pbc_wbc4', c), { recursive: true });
const place = ([c, f]: [string, string]) => copyFileSync(join(source, c, f), join(ws, 'data/pbc_wbc4', c, f));
order.slice(0, n).forEach(place);

const child = spawn(process.execPath, [join(repo, 'dist/cli.js'), 'watch', '--until', 'audit', '--debounce', '200', ...overrides], { cwd: ws, env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
child.stdout.on('data', (d) => (out += d));
child.stderr.on('data', (d) => (out += d));
const waitCycle = async (k: number) => {
  const re = new RegExp(`^ {3}cycle ${k} (\\S+)`, 'm');
  while (!re.test(out)) {
    if (child.exitCode !== null) throw new Error(`pipe watch exited:\n${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return re.exec(out)![1];
};
try {
  const t0 = Date.now();
  if ((await waitCycle(1)) !== 'ok') throw new Error(`initial cycle failed:\n${out}`);
  console.log(`initial cycle over ${n} images: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  for (let r = 0; r < repeats; r++) {
    const t = Date.now();
    place(order[n + r]!);
    const status = await waitCycle(r + 2);
    const block = out.slice(out.indexOf(`── cycle ${r + 2} `));
    console.log(`drop ${r + 1}: ${((Date.now() - t) / 1000).toFixed(2)} s from copy to updated audit (${status}; 200 ms debounce included)\n${block.trim()}`);
  }
} finally {
  child.kill('SIGINT');
  await new Promise((r) => child.on('close', r));
  rmSync(ws, { recursive: true, force: true });
}
