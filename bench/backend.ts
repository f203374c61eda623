// Training-backend benchmark: one command, leukopipe's wasm beside stock wasm and Debian's PyTorch,
// each measurement in its own process, the variants of a workload interleaved and repeated so
// that the load of a shared machine falls on all of them alike.
//   node --import tsx bench/backend.ts            (8-s timing windows, 2 repeats)
//   node --import tsx bench/backend.ts --quick    (3-s windows)
//   … --only "feature head" (the workloads whose title contains it) | --repeat 3 | --cpu (adds the pure-JS cpu backend, slow) | --densenet (adds DenseNet121 inference)
//   … --before DIR (adds "ours" as built by another checkout, e.g. `git archive <commit> | tar -x -C DIR`
//     with node_modules linked: before/after in the same run)
// Variants: wasm "stock" (only the kernels stock wasm lacks, added by leukopipe), wasm "ours"
// (all leukopipe kernels; for the feature head also "native", the hand-written fit train and cross-lab use),
// "pytorch" (bench/backend-torch.py with /usr/bin/python3, 1 thread per
// process like ours; ResNet50 also with 2 threads). The bench installs nothing: without PyTorch it
// says so and how to get it, and measures the rest.
import { spawn, spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const seconds = String(quick ? 3 : 8);
const repeatArg = argv.indexOf('--repeat');
const repeats = repeatArg >= 0 ? Number(argv[repeatArg + 1]) : 2;
const PYTHON = '/usr/bin/python3';
const TORCH_INSTALL = 'apt-get install python3-torch python3-torchvision';

interface Result { kind: string; variant: string; model: string; size: number; batch: number; steps: number; seconds: number; imgPerSec: number; gflops: number; error?: string }

function run(command: string, args: string[], label: Pick<Result, 'kind' | 'variant' | 'model' | 'size' | 'batch'>, cwd?: string): Promise<Result[]> {
  return new Promise((resolve) => {
    const p = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      const results = out.split('\n').filter((l) => l.startsWith('RESULT ')).map((l) => JSON.parse(l.slice(7)) as Result);
      if (code !== 0 || results.length === 0) {
        resolve([{ ...label, steps: 0, seconds: 0, imgPerSec: 0, gflops: 0, error: err.trim().split('\n').slice(-3).join(' | ') || `exit ${code}` }]);
      } else resolve(results);
    });
  });
}

const wasm = (kind: string, variant: string, model: string, size: number, batch: number, secs = seconds) =>
  run(process.execPath, ['--import', 'tsx', 'bench/backend-child.ts', kind, variant, model, String(size), String(batch), secs], { kind, variant, model, size, batch });
const beforeArg = argv.indexOf('--before');
const beforeDir = beforeArg >= 0 ? argv[beforeArg + 1] : undefined;
/** "ours" as another checkout builds it (empty when --before is not given). */
const before = (kind: string, model: string, size: number, batch: number) => (beforeDir ? [() =>
  run(process.execPath, ['--import', 'tsx', 'bench/backend-child.ts', kind, 'ours', model, String(size), String(batch), seconds], { kind, variant: `ours before (${beforeDir})`, model, size, batch }, beforeDir)
    .then((rs) => rs.map((r) => ({ ...r, variant: `ours before (${beforeDir})` })))] : []);

const torchVersion = (() => {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision; print(torch.__version__)'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : null;
})();
if (!torchVersion) console.log(`PyTorch not installed (Debian's, for ${PYTHON}); to compare against it: ${TORCH_INSTALL}`);
const torch = (kind: string, model: string, size: number, batch: number, threads = 1) => {
  const variant = `pytorch (${threads} thread${threads > 1 ? 's' : ''})`;
  if (!torchVersion) return Promise.resolve<Result[]>([{ kind, variant, model, size, batch, steps: 0, seconds: 0, imgPerSec: 0, gflops: 0, error: `PyTorch not installed: ${TORCH_INSTALL}` }]);
  return run(PYTHON, ['bench/backend-torch.py', kind, model, String(size), String(batch), seconds, String(threads)], { kind, variant, model, size, batch })
    .then((rs) => rs.map((r) => ({ ...r, variant })));
};

/** One workload: its variants, run one after another, `repeats` rounds. */
interface Workload { title: string; variants: Array<() => Promise<Result[]>> }
const workloads: Workload[] = [];
for (const size of [64, 128]) {
  workloads.push({ title: `small CNN training ${size}², batch 16`, variants: [
    () => wasm('train', 'ours', 'small_cnn', size, 16),
    ...before('train', 'small_cnn', size, 16),
    () => torch('train', 'small_cnn', size, 16),
    () => wasm('train', 'stock', 'small_cnn', size, 16),
    // The pure-JS cpu backend is ~100× slower: one short measurement with a small batch.
    ...(argv.includes('--cpu') ? [() => wasm('train', 'cpu', 'small_cnn', size, 2, '1')] : []),
  ] });
}
workloads.push({ title: 'MobileNet v1 α=0.25 training 128², batch 16', variants: [
  () => wasm('train', 'ours', 'mobilenet_v1_0.25', 128, 16),
  ...before('train', 'mobilenet_v1_0.25', 128, 16),
  () => torch('train', 'mobilenet_v1_0.25', 128, 16),
  () => wasm('train', 'stock', 'mobilenet_v1_0.25', 128, 16),
] });
// The study's head on cached feature vectors (transfer and cross-lab fit hundreds of them): MobileNet
// v1 α=0.25 at levels 4 gives 480 values, ResNet50 3840; batch 32 as the study trains it.
for (const dim of [480, 3840]) {
  workloads.push({ title: `feature head training, ${dim} inputs, batch 32`, variants: [
    () => wasm('train', 'native', 'feature_head', dim, 32),
    () => wasm('train', 'ours', 'feature_head', dim, 32),
    ...before('train', 'feature_head', dim, 32),
    () => torch('train', 'feature_head', dim, 32),
    () => wasm('train', 'stock', 'feature_head', dim, 32),
  ] });
}
/** Two processes at once: their img/s summed, GFLOP/s per process averaged. */
const pair = async (variant: () => Promise<Result[]>): Promise<Result[]> => {
  const [a, b] = await Promise.all([variant(), variant()]);
  const rs = [...a!, ...b!];
  const bad = rs.find((r) => r.error);
  if (bad) return [bad];
  const r0 = rs[0]!;
  return [{ ...r0, kind: 'infer ×2 processes', imgPerSec: rs.reduce((s, r) => s + r.imgPerSec, 0), gflops: rs.reduce((s, r) => s + r.gflops, 0) / rs.length }];
};
workloads.push({ title: 'ResNet50 inference 224², batch 8', variants: [
  () => wasm('infer', 'ours', 'resnet50', 224, 8),
  ...before('infer', 'resnet50', 224, 8),
  () => torch('infer', 'resnet50', 224, 8),
  () => torch('infer', 'resnet50', 224, 8, 2),
  () => wasm('infer', 'stock', 'resnet50', 224, 8),
  () => pair(() => wasm('infer', 'ours', 'resnet50', 224, 8)),
] });
if (argv.includes('--densenet')) {
  workloads.push({ title: 'DenseNet121 inference 224², batch 8', variants: [
    () => wasm('infer', 'ours', 'densenet121', 224, 8),
    () => wasm('infer', 'stock', 'densenet121', 224, 8),
  ] });
}

// --only <text>: the workloads whose title contains it (e.g. --only "feature head").
const onlyArg = argv.indexOf('--only');
if (onlyArg >= 0) workloads.splice(0, workloads.length, ...workloads.filter((w) => w.title.includes(argv[onlyArg + 1] ?? '')));
const loadBefore = loadavg()[0]!;
const fmt = (v: number) => (v >= 10 ? v.toFixed(1) : v.toPrecision(2));
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const table: string[] = [];
for (const w of workloads) {
  const byVariant = new Map<string, Result[]>();
  for (let r = 0; r < repeats; r++) {
    for (const v of w.variants) {
      for (const res of await v()) {
        const key = `${res.kind}|${res.variant}`;
        byVariant.set(key, [...(byVariant.get(key) ?? []), res]);
      }
    }
  }
  for (const rs of byVariant.values()) {
    const r = rs[0]!;
    const ok = rs.filter((x) => !x.error);
    const note = ok.length < rs.length ? `error: ${rs.find((x) => x.error)!.error}` : `img/s per round: ${ok.map((x) => fmt(x.imgPerSec)).join(', ')}`;
    const img = ok.length ? fmt(median(ok.map((x) => x.imgPerSec))) : '—';
    const gf = ok.length ? fmt(median(ok.map((x) => x.gflops))) : '—';
    table.push(`| ${w.title} | ${r.kind} | ${r.variant} | ${img} | ${gf} | ${note} |`);
  }
}

console.log(`\nMachine: ${cpus()[0]?.model} ×${cpus().length}, Node ${process.versions.node}, PyTorch ${torchVersion ?? 'not installed'}; ${new Date().toISOString()}`);
console.log(`1-min load average: ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after (other work shares the machine); ${repeats} rounds, medians`);
console.log('\n| workload | task | variant | img/s | GFLOP/s (per process) | note |');
console.log('|---|---|---|--:|--:|---|');
for (const line of table) console.log(line);
