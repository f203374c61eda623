// Throughput of segment and augment on this machine, using both cores: the image list is split in
// two and each half runs in its own process (as the runner does with -j 2).
// Usage: node --import tsx bench/data-stages.ts [count=200] [dataRoot=data/pbc_wbc4]
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import fg from 'fast-glob';

const [, , countArg, rootArg, workerFlag, listFile] = process.argv;

if (workerFlag === '--worker') {
  const { segmentOne } = await import('../stages/segment.js');
  const { augmentOne } = await import('../stages/augment.js');
  const { writeAllOrNothing } = await import('../stages/lib/io/item-files.js');
  const files: string[] = JSON.parse(readFileSync(listFile!, 'utf8'));
  const out = await mkdtemp(path.join(tmpdir(), 'bench-data-'));
  const params = { dataRoot: rootArg!, source: 'pbc', classes: ['EOSINOPHIL', 'LYMPHOCYTE', 'MONOCYTE', 'NEUTROPHIL'], size: 128, margin: 0.1, onFailure: 'keep' as const };
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  const c0 = cpu();
  const t0 = performance.now();
  const cells: string[] = [];
  for (const f of files) {
    const input = { path: f, rel: path.relative(process.cwd(), f), hash: createHash('sha256').update(readFileSync(f)).digest('hex') };
    const { record, files: outFiles } = await segmentOne(input, params);
    await writeAllOrNothing(out, outFiles);
    if (record.cell) cells.push(path.join(out, record.cell));
  }
  const t1 = performance.now();
  const c1 = cpu();
  const aug = { variants: 4, seed: 1, rotation: 20, widthShift: 0.1, heightShift: 0.1, shear: 0.2, horizontalFlip: true, verticalFlip: true, fill: 'white' as const };
  for (const c of cells) {
    const input = { path: c, rel: path.relative(out, c), hash: createHash('sha256').update(readFileSync(c)).digest('hex') };
    await writeAllOrNothing(out, await augmentOne(input, aug));
  }
  const t2 = performance.now();
  const c2 = cpu();
  process.stdout.write(JSON.stringify({ n: files.length, cells: cells.length, segStart: t0, segEnd: t1, augEnd: t2, segCpu: c1 - c0, augCpu: c2 - c1 }) + '\n');
} else {
  const count = Number(countArg ?? 200);
  const root = rootArg ?? 'data/pbc_wbc4';
  const all = (await fg(`${root}/*/*.jpg`)).sort();
  // Same number from each class, spread over the folder.
  const byClass = new Map<string, string[]>();
  for (const f of all) (byClass.get(path.basename(path.dirname(f))) ?? byClass.set(path.basename(path.dirname(f)), []).get(path.basename(path.dirname(f)))!).push(f);
  const per = Math.ceil(count / byClass.size);
  const chosen = [...byClass.values()].flatMap((fs) => fs.filter((_, i) => i % Math.max(1, Math.floor(fs.length / per)) === 0).slice(0, per));
  const workers = Math.min(2, availableParallelism());
  const { writeFileSync } = await import('node:fs');
  const tmp = await mkdtemp(path.join(tmpdir(), 'bench-list-'));
  const results = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const list = path.join(tmp, `list${w}.json`);
      writeFileSync(list, JSON.stringify(chosen.filter((_, i) => i % workers === w).map((f) => path.resolve(f))));
      return new Promise<{ n: number; cells: number; segStart: number; segEnd: number; augEnd: number; segCpu: number; augCpu: number }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'bench/data-stages.ts', '0', root, '--worker', list], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`worker exited ${code}`))));
      });
    }),
  );
  const n = results.reduce((s, r) => s + r.n, 0);
  const cells = results.reduce((s, r) => s + r.cells, 0);
  // Per-process durations; wall time of a phase = the slower process.
  const seg = Math.max(...results.map((r) => r.segEnd - r.segStart)) / 1000;
  const aug = Math.max(...results.map((r) => r.augEnd - r.segEnd)) / 1000;
  const segCpu = results.reduce((s, r) => s + r.segCpu, 0);
  const augCpu = results.reduce((s, r) => s + r.augCpu, 0);
  console.log(`CPU time (main thread + sharp threads) per image: segment ${((1000 * segCpu) / n).toFixed(0)} ms, augment ${((1000 * augCpu) / cells).toFixed(0)} ms (4 variants)`);
  console.log(`segment: ${n} images in ${seg.toFixed(1)} s with ${workers} processes → ${(n / seg).toFixed(1)} images/s`);
  console.log(`augment: ${cells} cells × 4 variants in ${aug.toFixed(1)} s with ${workers} processes → ${(cells / aug).toFixed(1)} source images/s (${((cells * 4) / aug).toFixed(1)} variants/s)`);
}
