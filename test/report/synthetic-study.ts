// Writes a small but complete set of synthetic stage outputs (what evaluate, train, audit, segment,
// split, shifted and normalize publish) into a temp dir, and returns the deps map the report stage
// receives. Predictions are drawn with a seeded generator so every run builds the same study.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { DepOutput, RunState, RunStatus } from '../../pipeline/stage-api.js';
import { computeEvaluationMetrics, predictionsToCsv, skippedEvaluationMetrics, type MisclassifiedImage, type Prediction } from '../../stages/lib/metrics/evaluation-metrics.js';
import { mulberry32 } from '../../stages/lib/random.js';

export const CLASSES = ['EOSINOPHIL', 'LYMPHOCYTE', 'MONOCYTE', 'NEUTROPHIL'];
export const SHIFTED = ['stain-shift', 'white-tight'];
export const MODELS = [
  { arch: 'densenet121', mode: 'transfer', skill: 0.93 },
  { arch: 'densenet121', mode: 'scratch', skill: 0.55 },
  { arch: 'mobilenet_v1_0.25', mode: 'finetune', skill: 0.85 },
  { arch: 'vgg16', mode: 'scratch', skill: 0 }, // skipped: not trained on this backend
];
const HUES: Record<string, string> = { EOSINOPHIL: '#d9468f', LYMPHOCYTE: '#5b3fa8', MONOCYTE: '#7c6fb8', NEUTROPHIL: '#a0529c' };

async function cellPng(cls: string, i: number): Promise<Buffer> {
  const r = 30 + (i % 5) * 4;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128"><rect width="128" height="128" fill="white"/><circle cx="64" cy="64" r="${r + 14}" fill="#e8c9de"/><circle cx="${60 + (i % 3) * 4}" cy="62" r="${r}" fill="${HUES[cls]}"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

async function write(file: string, content: string | Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
}

function dep(root: string, stageId: string, matrix: Record<string, string> = {}): DepOutput {
  const suffix = Object.keys(matrix).length ? `[${Object.entries(matrix).map(([k, v]) => `${k}=${v}`).join(',')}]` : '';
  const instanceId = `${stageId}${suffix}`;
  return { instanceId, stageId, matrix, dir: path.join(root, instanceId.replace(/[^\w.-]+/g, '_')), name: stageId, key: `test-key:${instanceId}`, created: null, seconds: null };
}

export interface SyntheticStudy {
  root: string;
  workspace: string;
  deps: Record<string, DepOutput>;
  runStateFile: string;
  /** Labels of the models, in the order the report lists them. */
  labels: string[];
}

export interface SyntheticOptions {
  models?: { arch: string; mode: string; skill: number }[];
  perClassTest?: number;
}

export async function writeSyntheticStudy(options: SyntheticOptions = {}): Promise<SyntheticStudy> {
  const models = options.models ?? MODELS;
  const root = await mkdtemp(path.join(os.tmpdir(), 'leukopipe-report-'));
  const workspace = path.join(root, 'workspace');
  const deps: Record<string, DepOutput> = {};
  const add = (d: DepOutput) => (deps[d.instanceId] = d);
  const perClassTest = options.perClassTest ?? 6;

  const normalize = add(dep(root, 'normalize'));
  const shifted = add(dep(root, 'shifted'));
  const testImages: { rel: string; stage: string; source: string; cls: string }[] = [];
  for (const cls of CLASSES) {
    for (let i = 0; i < perClassTest; i++) {
      const rel = `cells/${cls}/${cls.slice(0, 2)}_${i}.png`;
      await write(path.join(normalize.dir, rel), await cellPng(cls, i));
      testImages.push({ rel, stage: 'normalize', source: 'pbc', cls });
      for (const source of SHIFTED) {
        const srel = `sets/${source}/${cls}/${cls.slice(0, 2)}_${i}.png`;
        await write(path.join(shifted.dir, srel), await cellPng(cls, i + 2));
        testImages.push({ rel: srel, stage: 'shifted', source, cls });
      }
    }
  }
  await write(
    path.join(shifted.dir, 'sets.json'),
    JSON.stringify({
      seed: 1,
      sets: SHIFTED.map((s) => ({ source: s, dir: `sets/${s}`, description: `simulated ${s}`, images: perClassTest * CLASSES.length, perClass: Object.fromEntries(CLASSES.map((c) => [c, perClassTest])), skipped: 0 })),
      items: testImages.filter((t) => t.stage === 'shifted').map((t) => ({ source: t.source, file: t.rel, class: t.cls, draw: { k: 1 } })),
    }, null, 2),
  );
  await write(path.join(shifted.dir, `contact-sheet-${SHIFTED[0]}.jpg`), await sharp(await cellPng('MONOCYTE', 1)).jpeg().toBuffer());

  const random = mulberry32(11);
  for (const m of models) {
    const train = add(dep(root, 'train', { arch: m.arch, mode: m.mode }));
    const evaluate = add(dep(root, 'evaluate', { arch: m.arch, mode: m.mode }));
    const instanceId = evaluate.instanceId;
    if (m.skill === 0) {
      await write(path.join(train.dir, 'train.json'), JSON.stringify({ schemaVersion: 1, arch: m.arch, mode: m.mode, status: 'skipped', reason: 'no ImageNet weights file', epochs: { planned: 30, completed: 0, kept: null, stoppedEarly: false, resumedFrom: null }, seconds: { wall: 0.4, training: 0 } }));
      await write(path.join(evaluate.dir, 'metrics.json'), JSON.stringify(skippedEvaluationMetrics({ instanceId, arch: m.arch, mode: m.mode, classes: CLASSES, primarySource: 'pbc', resamples: 200, seed: 1, reason: 'model not trained' })));
      continue;
    }
    // As the training loop writes it: snake_case, one line per epoch; finetune runs two phases.
    const phases = m.mode === 'finetune' ? ['transfer', 'finetune'] : [m.mode];
    const perPhase = 6 / phases.length;
    const history = phases.flatMap((phase, k) =>
      Array.from({ length: perPhase }, (_, i) => {
        const e = k * perPhase + i;
        return { phase, epoch: i + 1, loss: 1.4 / (e + 1), accuracy: Math.min(0.99, m.skill * (0.6 + 0.08 * e)), val_loss: 1.5 / (e + 1) + 0.05 * e, val_accuracy: Math.min(0.99, m.skill * (0.55 + 0.07 * e)), seconds: 12.5, learning_rate: 0.001 };
      }),
    );
    await write(path.join(train.dir, 'history.jsonl'), history.map((h) => JSON.stringify(h)).join('\n') + '\n');
    const kept = perPhase - 1;
    await write(
      path.join(train.dir, 'train.json'),
      JSON.stringify({
        schemaVersion: 1, instanceId: train.instanceId, arch: m.arch, mode: m.mode, status: 'trained', classes: CLASSES,
        epochs: { planned: 6, completed: 6, kept, stoppedEarly: m.mode === 'scratch', resumedFrom: null },
        seconds: { wall: 75 + m.skill * 10, training: 70 },
        backend: { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', device: 'CPU', gpu: false, simd: true, threads: 1 },
        data: { train: 160, val: 20 },
      }),
    );
    const predictions: Prediction[] = testImages.map((img) => {
      const skill = img.source === 'pbc' ? m.skill : m.skill * 0.7;
      const right = random() < skill;
      const wrong = CLASSES.filter((c) => c !== img.cls)[Math.floor(random() * 3)]!;
      const predicted = right ? img.cls : wrong;
      const top = 0.5 + random() * 0.45;
      const probabilities = CLASSES.map((c) => (c === predicted ? top : (1 - top) / 3));
      return { path: `${img.stage}/${img.rel}`, source: img.source, trueClass: img.cls, predictedClass: predicted, probabilities };
    });
    const metrics = computeEvaluationMetrics(predictions, { instanceId, arch: m.arch, mode: m.mode, classes: CLASSES, primarySource: 'pbc', resamples: 200, seed: 1 });
    const inference = { msPerImage: 3.25, batchSize: 32, backend: 'wasm', device: 'CPU', images: predictions.length };
    await write(path.join(evaluate.dir, 'metrics.json'), JSON.stringify({ ...metrics, inference }, null, 2));
    await write(path.join(evaluate.dir, 'predictions.csv'), predictionsToCsv(predictions, CLASSES));
    const mistakes: MisclassifiedImage[] = predictions
      .filter((p) => p.trueClass !== p.predictedClass)
      .map((p) => ({ path: p.path, stage: p.path.split('/')[0]!, rel: p.path.split('/').slice(1).join('/'), source: p.source, trueClass: p.trueClass, predictedClass: p.predictedClass, probabilities: p.probabilities! }))
      .sort((a, b) => Math.max(...b.probabilities) - Math.max(...a.probabilities));
    await write(path.join(evaluate.dir, 'misclassified.json'), JSON.stringify(mistakes, null, 2));
  }

  const split = add(dep(root, 'split'));
  const csv = (n: number) => 'file,class,lab,group,origin\n' + CLASSES.flatMap((c) => Array.from({ length: n }, (_, i) => `segment/cells/${c}/${c}_${i}.png,${c},pbc,${c}_${Math.floor(i / 2)},original`)).join('\n') + '\n';
  await write(path.join(split.dir, 'train.csv'), csv(40));
  await write(path.join(split.dir, 'val.csv'), csv(5));
  await write(path.join(split.dir, 'test.csv'), csv(6));
  await write(path.join(split.dir, 'split.json'), JSON.stringify({ seed: 1 }));

  const audit = add(dep(root, 'audit'));
  await write(path.join(audit.dir, 'audit.json'), JSON.stringify({ files: 204, images: 204, undecodable: [], duplicates: [], crossSplitDuplicates: [], sharedAcrossSplits: [] }));
  await write(path.join(audit.dir, 'audit.md'), '# Audit\n\n- 204 files, **0** undecodable\n- cross-split duplicates: `0`\n\n| split | files |\n|---|--:|\n| train | 160 |\n| test | 24 |\n');

  const segment = add(dep(root, 'segment'));
  await write(
    path.join(segment.dir, 'summary.json'),
    JSON.stringify({
      total: 204, byStatus: { ok: 200, fallback: 4 }, byClass: Object.fromEntries(CLASSES.map((c) => [c, { ok: 50, fallback: 1, dropped: 0, rejected: 0 }])),
      emptyClasses: [], medianConfidence: 0.91, failures: [{ file: 'EOSINOPHIL/EO_3.jpg', status: 'fallback', reason: 'no stained region' }],
    }),
  );
  for (const cls of CLASSES.slice(0, 2)) {
    const tiles = await Promise.all([0, 1, 2, 3].map((i) => cellPng(cls, i)));
    const sheet = await sharp({ create: { width: 512, height: 128, channels: 3, background: '#ffffff' } })
      .composite(tiles.map((input, i) => ({ input, left: i * 128, top: 0 })))
      .jpeg()
      .toBuffer();
    await write(path.join(segment.dir, `contact-sheet-${cls}.jpg`), sheet);
  }

  await write(
    path.join(workspace, 'pipeline.json'),
    JSON.stringify({
      stages: [
        { id: 'segment' }, { id: 'normalize', deps: ['segment'] }, { id: 'augment', deps: ['normalize'] },
        { id: 'split', deps: ['segment', 'augment'] }, { id: 'audit', deps: ['segment', 'split'] }, { id: 'shifted', deps: ['split', 'segment'] },
        { id: 'train', deps: ['split', 'normalize', 'augment', 'features[arch=${matrix.arch}]?'] },
        { id: 'evaluate', deps: ['train[arch=${matrix.arch},mode=${matrix.mode}]', 'split', 'normalize', 'shifted'] },
        { id: 'report', deps: ['evaluate', 'train', 'audit', 'segment', 'split', 'shifted', 'normalize'] },
      ],
    }),
  );
  const runStateFile = path.join(root, 'run-state.json');
  const instance = (id: string, status: RunStatus, seconds: number | null): RunState['instances'][number] => ({ id, stageId: id.replace(/\[.*$/, ''), matrix: {}, deps: [], status, seconds });
  const instances: RunState['instances'] = [
    instance('segment', 'cached', 0.2),
    instance('normalize', 'cached', 0.1),
    instance('augment', 'restored', 0.4),
    instance('split', 'ran', 1.2),
    instance('audit', 'ran', 3.5),
    instance('shifted', 'ran', 2.1),
    ...models.map((m) => instance(`train[arch=${m.arch},mode=${m.mode}]`, 'ran', 80)),
    ...models.map((m) => instance(`evaluate[arch=${m.arch},mode=${m.mode}]`, 'ran', 4)),
    instance('report', 'running', null),
  ];
  const state: RunState = { runId: 'test', startedAt: '2026-12-03T05:00:00.000Z', profile: null, instances };
  await write(runStateFile, JSON.stringify(state));
  return { root, workspace, deps, runStateFile, labels: models.map((m) => `${m.arch} · ${m.mode}`) };
}
