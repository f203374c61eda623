// evaluate: one trained model (or ensemble) on the held-out test split (same source) and on every shifted-source set.
// The test split's cells are read as training read them; the shifted sets are raw foreign-looking
// images and go through exactly what `pipe predict` does: canonical cell → normalisation → model.
// Output: metrics.json (EvaluationMetrics + inference time), predictions.csv, misclassified.json.
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage, StageError, type StageContext } from '../pipeline/stage-api.js';
import { initBackend } from './tf/backend.js';
import {
  computeEvaluationMetrics,
  predictionsToCsv,
  skippedEvaluationMetrics,
  type EvaluationMetrics,
  type MisclassifiedImage,
  type Prediction,
} from './lib/metrics/evaluation-metrics.js';
import { argMax, predictProbabilities } from './lib/classifier/inference.js';
import { loadModelFromDirectory } from './lib/classifier/model-directory.js';
import { preparedCellToInput, rawImageToInput } from './lib/classifier/raw-image-input.js';
import { decodeRgb } from './lib/image/decode.js';
import { preparedCellsFor } from './lib/records/prepared-cells-record.js';
import { readImageRgb } from './lib/classifier/read-image.js';
import { readLabelledSplit } from './lib/classifier/split-table.js';
import { labsOf } from './lib/records/split-csv.js';
import { declaredDep, declaredDepList } from './lib/deps/declared-dep.js';
import { MODEL_DIR, MODEL_STAGES, TRAIN_JSON, type TrainRecord } from './lib/classifier/train-record.js';
import { cellDiameter, relativeCellSizes, takesCellSize } from './lib/classifier/cell-size.js';
import { studyCellSizes } from './lib/classifier/study-cell-sizes.js';

/** Name of the pooled same-lab test split when the study has several labs. */
export const ALL_LABS = 'all-labs';

export interface EvaluateParams {
  /** Bootstrap resamples for the confidence intervals. */
  bootstrap: number;
  seed: number;
  batchSize: number;
  /** Name of the same-source test split; null → the `source` of the test rows. */
  primarySource: string | null;
  backend: string;
}

const paramsSchema = {
  type: 'object',
  properties: {
    bootstrap: { type: 'integer', minimum: 1 },
    seed: { type: 'integer' },
    batchSize: { type: 'integer', minimum: 1 },
    primarySource: { type: ['string', 'null'] },
    backend: { type: 'string' },
  },
  required: ['bootstrap', 'seed'],
};

/** One image to classify, with where it lives (for misclassified.json) and how to read it. */
interface EvalItem {
  id: string;
  /** The instance that published the image, and the stage it is an instance of. */
  from: string;
  stage: string;
  rel: string;
  path: string;
  source: string;
  trueClass: string;
  raw: boolean;
}

interface ShiftedSets {
  items?: { source: string; file: string; class: string }[];
}

/** The images of every dep that publishes test sets in the shifted stage's layout (sets.json: shifted, foreign). */
function shiftedItems(ctx: StageContext<EvaluateParams>, classes: string[]): EvalItem[] {
  const out: EvalItem[] = [];
  for (const dep of Object.values(ctx.deps).sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1))) {
    const setsPath = join(dep.dir, 'sets.json');
    if (!existsSync(setsPath)) {
      if (dep.stageId === 'shifted') throw new StageError('sets.json is missing', setsPath);
      continue;
    }
    const sets = JSON.parse(readFileSync(setsPath, 'utf8')) as ShiftedSets;
    for (const it of sets.items ?? []) {
      if (!classes.includes(it.class)) continue;
      out.push({ id: `${dep.stageId}/${it.file}`, from: dep.instanceId, stage: dep.stageId, rel: it.file, path: join(dep.dir, it.file), source: it.source, trueClass: it.class, raw: true });
    }
  }
  return out;
}

export default defineStage<EvaluateParams>({
  paramsSchema,
  async run(ctx) {
    const p = ctx.params;
    // The model: a train instance, or an ensemble (published in train's layout).
    const trainDep = MODEL_STAGES.flatMap((name) => declaredDepList(ctx, name))[0];
    if (!trainDep) throw new StageError('evaluate needs its train (or ensemble) instance as a dependency', ctx.instanceId);
    const recordPath = join(trainDep.dir, TRAIN_JSON);
    if (!existsSync(recordPath)) throw new StageError('train.json is missing', recordPath);
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as TrainRecord;
    const classes = record.classes;
    const common = { instanceId: ctx.instanceId, arch: record.arch, mode: record.mode, classes, resamples: p.bootstrap, seed: p.seed };
    const write = async (metrics: EvaluationMetrics | (EvaluationMetrics & { model: unknown; inference: unknown }), predictions: Prediction[], misclassified: MisclassifiedImage[]) => {
      await writeFile(join(ctx.outDir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
      await writeFile(join(ctx.outDir, 'predictions.csv'), predictionsToCsv(predictions, classes));
      await writeFile(join(ctx.outDir, 'misclassified.json'), JSON.stringify(misclassified, null, 2) + '\n');
    };

    if (record.status !== 'trained') {
      const reason = record.reason ?? 'the model was not trained';
      ctx.warn(`${ctx.instanceId}: ${reason}`);
      const primarySource = p.primarySource ?? record.sources[0] ?? 'test';
      await write(skippedEvaluationMetrics({ ...common, primarySource, reason }), [], []);
      return;
    }
    const testRows = readLabelledSplit(ctx.dep('split'), ctx.deps, 'test', classes);
    const labs = labsOf(testRows);
    // One lab: its name is the same-lab split. Several: their test cells pooled, and each lab on its own.
    const primarySource = p.primarySource ?? (labs.length === 1 ? labs[0]! : labs.length > 1 ? ALL_LABS : record.sources[0] ?? 'test');

    const backend = await initBackend({ prefer: p.backend ?? 'auto' });
    const model = await loadModelFromDirectory(join(trainDep.dir, MODEL_DIR));
    const items: EvalItem[] = [
      ...testRows.map((r) => {
        const slash = r.file.indexOf('/');
        return { id: r.file, from: r.file.slice(0, slash), stage: r.file.slice(0, slash), rel: r.file.slice(slash + 1), path: r.path, source: r.lab || primarySource, trueClass: r.class, raw: false };
      }),
      ...shiftedItems(ctx, classes),
    ];
    if (testRows.length === 0) ctx.warn(`${ctx.instanceId}: the test split is empty`);
    if (items.some((it) => it.raw) && !record.cell) {
      throw new StageError('train.json records no cell representation, so raw shifted images cannot be prepared', recordPath);
    }
    // The shifted images already cut and normalised with this model's settings, when a dep prepared them.
    const preparing = declaredDep(ctx, 'shifted-cells');
    const prepared = preparing ? preparedCellsFor(preparing, record) : null;
    if (prepared && 'reason' in prepared) ctx.log(`${ctx.instanceId}: shifted images cut here (${prepared.reason})`);
    const preparedCells = prepared && 'cells' in prepared ? prepared.cells : new Map<string, { path: string; status: string; scale?: number }>();
    let cellFallbacks = 0;
    let fromPrepared = 0;
    // Raw images cut here before inference, for their cells' sizes: kept, so they are cut once.
    const cutHere = new Map<EvalItem, { rgb: Uint8Array; status: string }>();
    const itemCellSizes = async (): Promise<number[]> => {
      const segment = declaredDep(ctx, 'segment');
      if (!segment) throw new StageError(`${trainDep!.instanceId}'s model takes the cell's size, which needs the segment stage as a dependency`, ctx.instanceId);
      const study = studyCellSizes(segment.dir, 0);
      // A shifted set's sizes are relative to its own median, as `pipe predict` takes a folder's.
      const sets = new Map<string, { index: number; diameter: number | null }[]>();
      const out = items.map((it) => (it.raw ? 0 : study.of(it.id)));
      for (const [index, it] of items.entries()) {
        if (!it.raw) continue;
        const ready = preparedCells.get(`${it.from}/${it.rel}`);
        let cell: { status: string; scale?: number };
        if (ready && ready.scale !== undefined) cell = ready;
        else {
          const input = await rawImageToInput(it.path, { cell: record.cell!, normalization: record.normalization, size: record.inputSize });
          cutHere.set(it, { rgb: input.rgb, status: input.cellStatus });
          cell = { status: input.cellStatus, scale: input.scale };
        }
        (sets.get(it.source) ?? sets.set(it.source, []).get(it.source)!).push({ index, diameter: cellDiameter(cell) });
      }
      for (const members of sets.values()) {
        const values = relativeCellSizes(members.map((m) => m.diameter));
        members.forEach((m, i) => (out[m.index] = values[i]!));
      }
      return out;
    };
    const cellSizes = takesCellSize(model) ? await itemCellSizes() : undefined;
    const load = async (it: EvalItem) => {
      if (!it.raw) return readImageRgb(it.path, record.inputSize);
      const cut = cutHere.get(it);
      if (cut) {
        if (cut.status !== 'ok') cellFallbacks++;
        cutHere.delete(it);
        return cut.rgb;
      }
      const ready = preparedCells.get(`${it.from}/${it.rel}`);
      if (ready) {
        fromPrepared++;
        if (ready.status !== 'ok') cellFallbacks++;
        const cell = await decodeRgb(await readFile(ready.path), { name: ready.path });
        return preparedCellToInput(cell, record.inputSize);
      }
      const input = await rawImageToInput(it.path, { cell: record.cell!, normalization: record.normalization, size: record.inputSize });
      if (input.cellStatus !== 'ok') cellFallbacks++;
      return input.rgb;
    };
    const { probabilities, msPerImage } = await predictProbabilities(model, items, load, {
      size: record.inputSize,
      preprocessing: record.preprocessing,
      batchSize: p.batchSize ?? 32,
      onBatch: (done) => ctx.progress(done, items.length, 'evaluate'),
      ...(cellSizes ? { cellSizes } : {}),
    });
    const predictions: Prediction[] = items.map((it, i) => ({
      path: it.id,
      source: it.source,
      trueClass: it.trueClass,
      predictedClass: classes[argMax(probabilities[i]!)]!,
      probabilities: probabilities[i]!,
    }));
    const metrics = computeEvaluationMetrics(predictions, { ...common, primarySource, labs });
    const misclassified: MisclassifiedImage[] = items
      .map((it, i) => ({ it, pred: predictions[i]! }))
      .filter(({ pred }) => pred.predictedClass !== pred.trueClass)
      .sort((a, b) => Math.max(...b.pred.probabilities!) - Math.max(...a.pred.probabilities!) || (a.it.id < b.it.id ? -1 : 1))
      .map(({ it, pred }) => ({
        path: it.id,
        stage: it.stage,
        rel: it.rel,
        source: it.source,
        trueClass: pred.trueClass,
        predictedClass: pred.predictedClass,
        probabilities: pred.probabilities!,
      }));
    const extra = {
      model: { arch: record.arch, mode: record.mode, inputSize: record.inputSize, preprocessing: record.preprocessing, weights: record.weights, cellSize: record.cellSize ?? null },
      inference: {
        msPerImage: Math.round(msPerImage * 1000) / 1000,
        batchSize: p.batchSize ?? 32,
        backend: backend.name,
        device: backend.device,
        images: items.length,
        shiftedCellFallbacks: cellFallbacks,
        shiftedPrepared: fromPrepared,
      },
    };
    await write({ ...metrics, ...extra }, predictions, misclassified);
    model.dispose();
    const test = metrics.test;
    const shifted = Object.values(metrics.sources).filter((s) => s.source !== primarySource);
    ctx.log(
      `${ctx.instanceId}: test accuracy ${test?.accuracy?.toFixed(4) ?? 'n/a'}` +
        (test?.accuracyCi ? ` [${test.accuracyCi.low.toFixed(4)}, ${test.accuracyCi.high.toFixed(4)}]` : '') +
        ` on ${test?.n ?? 0} images; ` +
        (shifted.length ? `shifted: ${shifted.map((s) => `${s.source} ${s.accuracy?.toFixed(3) ?? 'n/a'}`).join(', ')}; ` : '') +
        `${msPerImage.toFixed(2)} ms/image`,
    );
  },
});
