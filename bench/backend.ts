// Training-backend benchmark: one command, all variants side by side, each in its own process.
//   node --import tsx bench/backend.ts            (full run, a few minutes)
//   node --import tsx bench/backend.ts --quick    (shorter timings)
// Variants: wasm "stock" (only the kernels stock wasm lacks, added by leukopipe), wasm "ours"
// (all leukopipe kernels), pure-JS "cpu" (short). Training: small CNN (stages/models) at 64² and
// 128², batch 16. Inference: ResNet50 and DenseNet121 at 224², batch 8, 1 and 2 processes.
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const seconds = quick ? 3 : 8;

interface Result { kind: string; variant: string; model: string; size: number; batch: number; steps: number; seconds: number; imgPerSec: number; gflops: number; process?: number; error?: string }

function child(args: string[]): Promise<Result[]> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'bench/backend-child.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      const results = out.split('\n').filter((l) => l.startsWith('RESULT ')).map((l) => JSON.parse(l.slice(7)) as Result);
      if (code !== 0 && results.length === 0) {
        resolve([{ kind: args[0] ?? '?', variant: args[1] ?? '?', model: args[2] ?? '?', size: Number(args[3]), batch: 0, steps: 0, seconds: 0, imgPerSec: 0, gflops: 0, error: err.trim().split('\n').slice(-3).join(' | ') }]);
      } else resolve(results);
    });
  });
}

const loadBefore = loadavg()[0]!;
const rows: Result[] = [];
const fmt = (v: number) => (v >= 10 ? v.toFixed(1) : v.toPrecision(2));
for (const size of [64, 128]) {
  for (const variant of ['stock', 'ours', 'cpu']) {
    // The pure-JS cpu backend is ~100× slower: one short measurement with a small batch.
    const [batch, secs] = variant === 'cpu' ? ['2', '1'] : ['16', String(seconds)];
    rows.push(...(await child(['train', variant, 'small_cnn', String(size), batch, secs])));
  }
}
rows.push(...(await child(['train', 'stock', 'mobilenet_v1_0.25', '128', '16', String(seconds)])));
rows.push(...(await child(['train', 'ours', 'mobilenet_v1_0.25', '128', '16', String(seconds)])));
for (const arch of ['resnet50', 'densenet121']) {
  for (const variant of ['stock', 'ours']) {
    rows.push(...(await child(['infer', variant, arch, '224', '8', String(seconds)])));
    const pair = await Promise.all([0, 1].map(() => child(['infer', variant, arch, '224', '8', String(seconds)])));
    pair.flat().forEach((r, i) => rows.push({ ...r, process: i + 1, kind: 'infer×2' }));
  }
}

console.log(`\nMachine: ${cpus()[0]?.model} ×${cpus().length}, Node ${process.versions.node}; ${new Date().toISOString()}`);
console.log(`1-min load average: ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after (other work shares the machine)\n`);
console.log('| task | model | size | batch | variant | img/s | GFLOP/s | note |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const note = r.error ? `error: ${r.error}` : `${r.steps} steps in ${r.seconds.toFixed(1)} s${r.process ? `, process ${r.process} of 2` : ''}`;
  console.log(`| ${r.kind} | ${r.model} | ${r.size}² | ${r.batch} | ${r.variant} | ${fmt(r.imgPerSec)} | ${fmt(r.gflops)} | ${note} |`);
}
