// The study's own stages (features → train ×3 → evaluate) timed on upstream outputs that already exist
// (segment/normalize/augment/split of the default dataset), with the default params of pipeline.json,
// two processes at a time as `pipe run -j 2` would. For when the whole `pipe run` is too long to time.
//
//   node --import tsx bench/study-stages.ts --upstream artifacts/stages [--out /tmp/study-bench] [--reuse-features]
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';

const argv = process.argv.slice(2);
const flag = (name: string, fallback?: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1]! : fallback;
};
const upstream = resolve(flag('--upstream', 'artifacts/stages')!);
const out = resolve(flag('--out', '/tmp/study-bench')!);
const ARCH = 'mobilenet_v1_0.25';
const MODES = [
  { arch: ARCH, mode: 'transfer' },
  { arch: ARCH, mode: 'finetune' },
  { arch: 'small_cnn', mode: 'scratch' },
];

function stageParams(id: string, matrix: Record<string, string>): Record<string, unknown> {
  const config = JSON.parse(readFileSync('pipeline.json', 'utf8')) as { stages: { id: string; params?: unknown }[] };
  const text = JSON.stringify(config.stages.find((s) => s.id === id)!.params ?? {});
  return JSON.parse(text.replace(/\$\{matrix\.(\w+)\}/g, (_, k: string) => matrix[k] ?? ''));
}

function files(dir: string, sub: string): string[] {
  const root = join(dir, sub);
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.png')) found.push(p);
    }
  };
  if (existsSync(root)) walk(root);
  return found;
}

async function child(args: string[]): Promise<number> {
  const started = performance.now();
  await new Promise<void>((done, fail) => {
    const c = spawn(process.execPath, ['--import', 'tsx', 'bench/study-stages.ts', ...args], { stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
    c.on('close', (code) => (code === 0 ? done() : fail(new Error(`${args.join(' ')} exited ${code}`))));
  });
  return (performance.now() - started) / 1000;
}

async function pool<T>(tasks: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}

const deps = (extra: Record<string, string> = {}) => ({
  split: join(upstream, 'split'),
  segment: join(upstream, 'segment'),
  normalize: join(upstream, 'normalize'),
  augment: join(upstream, 'augment'),
  ...extra,
});

async function context(stageId: string, matrix: Record<string, string>, depDirs: Record<string, string>, outDir: string) {
  const { stageContext } = await import('../test/study/context.js');
  return stageContext({ stageId, matrix, params: stageParams(stageId, matrix) as never, deps: depDirs, outDir, stateDir: join(out, 'state', `${stageId}-${Object.values(matrix).join('-')}`) });
}

const [command, ...rest] = argv;
if (command === 'features') {
  const [shard, count] = rest[0]!.split('/').map(Number) as [number, number];
  const mod = (await import('../stages/features.js')).default;
  const inputs = [
    ...files(join(upstream, 'normalize'), 'cells').map((p) => ({ path: p, rel: relative(join(upstream, 'normalize'), p), hash: '', fromInstance: 'normalize' })),
    ...files(join(upstream, 'augment'), 'variants').map((p) => ({ path: p, rel: relative(join(upstream, 'augment'), p), hash: '', fromInstance: 'augment' })),
  ].filter((_, i) => i % count === shard);
  const dir = join(out, 'features');
  const ctx = await context('features', { arch: ARCH }, { ...deps(), [`weights[arch=${ARCH}]`]: join(upstream, `weights[arch=${ARCH}]`) }, dir);
  await mod.processItems(ctx as never, inputs.map((input) => ({ input, outDir: dir })));
  if (shard === 0) {
    const all = files(join(dir, 'features'), '.');
    void all;
  }
} else if (command === 'features-finalize') {
  const mod = (await import('../stages/features.js')).default;
  const dir = join(out, 'features');
  const ctx = await context('features', { arch: ARCH }, { ...deps(), [`weights[arch=${ARCH}]`]: join(upstream, `weights[arch=${ARCH}]`) }, dir);
  const produced = readdirSync(join(dir, 'features'), { recursive: true }).filter((f) => String(f).endsWith('.f32'));
  const first = `features/${String(produced[0])}`;
  await mod.finalize!(ctx as never, [{ input: { path: '', rel: '', hash: '' }, files: [first] }]);
} else if (command === 'train') {
  const [arch, mode] = rest as [string, string];
  const mod = (await import('../stages/train.js')).default;
  const ctx = await context('train', { arch, mode }, deps(mode === 'scratch' ? {} : { [`features[arch=${arch}]`]: join(out, 'features'), [`weights[arch=${arch}]`]: join(upstream, `weights[arch=${arch}]`) }), join(out, `train-${mode}`));
  await mod.run(ctx as never);
  ctx.logs.forEach((l) => console.log(`[train ${mode}] ${l}`));
} else if (command === 'evaluate') {
  const [arch, mode] = rest as [string, string];
  const mod = (await import('../stages/evaluate.js')).default;
  const extra: Record<string, string> = { [`train[arch=${arch},mode=${mode}]`]: join(out, `train-${mode}`) };
  if (existsSync(join(upstream, 'shifted', 'sets.json'))) extra.shifted = join(upstream, 'shifted');
  const ctx = await context('evaluate', { arch, mode }, deps(extra), join(out, `evaluate-${mode}`));
  await mod.run(ctx as never);
  ctx.logs.forEach((l) => console.log(`[evaluate ${mode}] ${l}`));
} else {
  const reuseFeatures = argv.includes('--reuse-features') && existsSync(join(out, 'features', 'features.json'));
  if (!reuseFeatures) await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const started = performance.now();
  const times: Record<string, number> = {};
  if (!reuseFeatures) {
    const featureShards = await pool([0, 1].map((s) => () => child(['features', `${s}/2`, ...argv])), 2);
    await child(['features-finalize', ...argv]);
    times.features = Math.max(...featureShards);
  }
  const trainTimes = await pool(MODES.map((m) => () => child(['train', m.arch, m.mode, ...argv])), 2);
  MODES.forEach((m, i) => (times[`train ${m.mode}`] = trainTimes[i]!));
  const evalTimes = await pool(MODES.map((m) => () => child(['evaluate', m.arch, m.mode, ...argv])), 2);
  MODES.forEach((m, i) => (times[`evaluate ${m.mode}`] = evalTimes[i]!));
  console.log(`\nstudy stages: ${((performance.now() - started) / 1000).toFixed(0)} s wall`);
  for (const [k, v] of Object.entries(times)) console.log(`  ${k}: ${v.toFixed(1)} s (process wall, incl. start-up)`);
  for (const m of MODES) {
    const metrics = JSON.parse(readFileSync(join(out, `evaluate-${m.mode}`, 'metrics.json'), 'utf8'));
    const t = JSON.parse(readFileSync(join(out, `train-${m.mode}`, 'train.json'), 'utf8'));
    const ci = metrics.test?.accuracyCi;
    console.log(
      `  ${m.arch} ${m.mode}: test ${(metrics.test.accuracy * 100).toFixed(2)}% [${(ci.low * 100).toFixed(1)}, ${(ci.high * 100).toFixed(1)}] n=${metrics.test.n}, ` +
        `macro-F1 ${metrics.test.macroF1.toFixed(3)}, epochs ${t.epochs.completed} (kept ${t.epochs.kept}), train ${t.seconds.wall} s, ${metrics.inference.msPerImage} ms/image; ` +
        Object.values(metrics.sources as Record<string, { source: string; accuracy: number }>)
          .filter((s) => s.source !== metrics.primarySource)
          .map((s) => `${s.source} ${(s.accuracy * 100).toFixed(1)}%`)
          .join(', '),
    );
  }
}
