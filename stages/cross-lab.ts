// cross-lab (whole): does a model work in a lab it never saw? For each lab L, the study's head is fitted on
// the cached features of every other lab (their train split, early stopping on their val split) and
// measured on ALL of L's cells — leave-one-lab-out. Then the labelling curve: the same, with k of L's
// labelled cells per class added to training (k = 0, 5, 10, 25, 50), the rest of L as test. A chosen
// cell takes its whole group (session, smear, or only itself) out of L's test, so near-duplicate frames
// never sit on both sides. Each held-out model is measured as trained and with test-time adaptation
// (AdaBN: the head's feature standardisation re-estimated on L's unlabelled cells) and, with adapt:
// self-training, after self-training on L's unlabelled cells (the head trained on its own most confident
// labels of them, each cell joined by the augment stage's variants of it where the features have them, as
// `pipe predict` adapts to a folder); which one a figure shows is said next to it.
// Nothing here is tuned on any lab: settings are the train stage's.
// Output: cross-lab.json; held-out-predictions.csv, held-out-predictions-adabn.csv and, with self-training,
// held-out-predictions-self-trained.csv (k = 0: every cell of each held-out lab, in evaluate's
// predictions.csv format) for per-cell checks and for combining backbones.
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage, StageError } from '../pipeline/stage-api.js';
import { initBackend } from './tf/backend.js';
import type { LabelledFile } from './lib/classifier/split-table.js';
import { readSplitCsv, splitCsvPath } from './lib/records/split-csv.js';
import { lossTargetSchema, rowsWithFeatures, type HeadSettings } from './lib/classifier/feature-head.js';
import { targetShaping } from './lib/classifier/loss-targets.js';
import { adaptStandardization, predictFeatureMatrix, readFeatureMatrix } from './lib/classifier/feature-matrix.js';
import { createHeadLayers, headModel } from './lib/classifier/graph-surgery.js';
import { createOptimizer } from './lib/classifier/optimizer.js';
import { fitHeadOnMatrix, type HeadMatrix } from './lib/classifier/fit-head.js';
import { argMax } from './lib/classifier/inference.js';
import { unitHash } from './lib/random.js';
import { predictionsToCsv } from './lib/metrics/predictions-csv.js';
import { sourceMetrics, type Prediction, type SourceMetrics } from './lib/metrics/evaluation-metrics.js';
import type { FeaturesRecord } from './lib/records/features-record.js';
import { SELF_TRAINING_DEFAULTS, selfTrainHead, type SelfTrainingSettings } from './lib/classifier/self-training.js';
import { AUGMENT_JSON, type AugmentSettings } from './lib/records/augment-record.js';
import { variantFileName } from './lib/records/augment-variant-name.js';
import { cellKey, json } from './lib/io/item-files.js';
import { declaredDep } from './lib/deps/declared-dep.js';
import { appendCellSize, cellSizeSchema, type CellSizeSettings } from './lib/classifier/cell-size.js';
import { studyCellSizes } from './lib/classifier/study-cell-sizes.js';
import { CROSS_LAB_JSON, HELD_OUT_PREDICTIONS, type CrossLabAdaptation, type CrossLabRecord, type CurvePoint, type HeldOutResult, type MeanFigures } from './lib/records/cross-lab-record.js';

export interface CrossLabParams extends HeadSettings {
  /** Labelled cells of the held-out lab per class that join training, for the labelling curve. */
  curve: number[];
  /**
   * Which figure is the headline: the held-out model as trained, with AdaBN on the held-out lab, or after
   * self-training on the held-out lab's unlabelled cells (self-training.ts; then also measured: AdaBN).
   */
  adapt: CrossLabAdaptation;
  /** Self-training's settings, each defaulting to SELF_TRAINING_DEFAULTS (5 rounds, last share 0.8, 5 epochs, Adam 1e-4). */
  selfTraining?: Partial<SelfTrainingSettings>;
  /**
   * Rounds of class-balanced re-estimation after AdaBN (0: plain AdaBN): the held-out lab's statistics
   * with every class weighted equally by the head's predictions (class-balanced-moments.ts).
   */
  balancedAdaptation?: number;
  bootstrap: number;
  backend: string;
  /** Heads per point, fitted with seeds seed, seed + 1, … and their probabilities averaged (default 1). */
  headSeeds?: number;
  /**
   * Every lab's vectors standardised by that lab's own mean and variance (all its cells, unlabelled) before any
   * head sees them — in training as at test, so a held-out lab is standardised as the training labs were
   * (domain-specific normalisation; AdaBN does it only at test). Default false.
   */
  standardizePerLab?: boolean;
  /**
   * With adapt: self-training, the labelling curve's k > 0 points self-train too (on the rest of the lab, as
   * `pipe predict` would on a lab that had labelled k cells per class); otherwise they are as trained. Default false.
   */
  curveSelfTraining?: boolean;
  /**
   * With curveSelfTraining, the k labelled cells (and their variants) also join every self-training round with
   * their classes, as `pipe predict --labelled` gives them. Default false.
   */
  curveAnchors?: boolean;
  /**
   * The cell's size relative to its lab after each vector, as train's transfer models read it (cell-size.ts): `copies`
   * columns, augmented variants ± `jitter`; a held-out lab's median is over its own cells. Null or absent: none.
   */
  cellSize?: CellSizeSettings | null;
}

const paramsSchema = {
  type: 'object',
  required: ['epochs', 'batchSize', 'optimizer', 'seed', 'curve', 'adapt', 'bootstrap'],
  properties: {
    epochs: { type: 'integer', minimum: 1 },
    batchSize: { type: 'integer', minimum: 1 },
    optimizer: { type: 'object' },
    earlyStopping: { type: ['object', 'null'] },
    seed: { type: 'integer' },
    standardizeFeatures: { type: 'boolean' },
    headNormalization: { enum: ['batch', 'layer'] },
    ...lossTargetSchema,
    recalibrateBatchNorm: { type: ['integer', 'null'] },
    maxStepsPerEpoch: { type: ['integer', 'null'] },
    curve: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 },
    adapt: { enum: ['none', 'adabn', 'self-training'] },
    selfTraining: {
      type: 'object',
      additionalProperties: false,
      properties: {
        rounds: { type: 'integer', minimum: 1 },
        portion: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        epochs: { type: 'integer', minimum: 1 },
        learningRate: { type: 'number', exclusiveMinimum: 0 },
        views: { type: 'integer', minimum: 0 },
      },
    },
    balancedAdaptation: { type: 'integer', minimum: 0 },
    bootstrap: { type: 'integer', minimum: 1 },
    backend: { type: 'string' },
    headSeeds: { type: 'integer', minimum: 1 },
    standardizePerLab: { type: 'boolean' },
    curveSelfTraining: { type: 'boolean' },
    curveAnchors: { type: 'boolean' },
    cellSize: cellSizeSchema,
  },
};

export function meanFigures(results: readonly SourceMetrics[]): MeanFigures {
  const mean = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length === results.length && v.length > 0 ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  return { accuracy: mean(results.map((r) => r.accuracy)), balancedAccuracy: mean(results.map((r) => r.balancedAccuracy)), macroF1: mean(results.map((r) => r.macroF1)) };
}

/**
 * The labelled cells of one lab that join training at budget k: k cells per class, taken group by group
 * (a session, a smear, or the cell alone) in a seeded order, as a lab labels the cells of a few sessions.
 * Every cell of a group that gave a labelled cell leaves the test set, so no near-duplicate of a training
 * cell is scored; a group with nothing a class still needs is left whole for the test set. Where every
 * group is a single cell this is the first k cells per class in the seeded order.
 */
export function labelledCells(cells: readonly LabelledFile[], k: number, seed: number): { origins: Set<string>; groups: Set<string> } {
  const origins = new Set<string>();
  const groups = new Set<string>();
  if (k <= 0) return { origins, groups };
  const need = new Map<string, number>();
  for (const c of cells) need.set(c.class, k);
  const order = [...cells].sort((a, b) => unitHash(`curve:${seed}:${a.origin}`) - unitHash(`curve:${seed}:${b.origin}`));
  // Groups in the order of their first cell; members keep the seeded order.
  const members = new Map<string, LabelledFile[]>();
  for (const c of order) (members.get(c.group) ?? members.set(c.group, []).get(c.group)!).push(c);
  for (const [group, list] of members) {
    if ([...need.values()].every((n) => n === 0)) break;
    let took = false;
    for (const c of list) {
      const left = need.get(c.class)!;
      if (left === 0) continue;
      need.set(c.class, left - 1);
      origins.add(c.origin);
      took = true;
    }
    if (took) groups.add(group);
  }
  return { origins, groups };
}

/** What a benchmarked test-time adaptation gets for one held-out lab (bench/cross-lab-methods.ts: CORAL, refitting self-training). */
export interface HeldOutAdaptationInput {
  /** The head fitted on the other labs, as trained (the adaptation may change it; the stage disposes it). */
  model: tf.LayersModel;
  /** The rows it was fitted on (the other labs' train split, with their variants). */
  train: HeadMatrix;
  /** The held-out lab's cells, unlabelled. */
  heldOut: Float32Array;
  dim: number;
  /** Fits a fresh head as this one was (same settings and validation rows) on other rows; the caller disposes it (bench/lib/self-training-refit.ts). */
  fitHead(train: HeadMatrix, seed: number, name: string): Promise<tf.LayersModel>;
}

/** Another test-time adaptation than AdaBN: the held-out cells' class probabilities. */
export type HeldOutAdaptation = (input: HeldOutAdaptationInput) => Promise<number[][]>;

let heldOutAdaptation: HeldOutAdaptation | null = null;

/**
 * For benchmarks of other test-time adaptations (bench/cross-lab-methods.ts: CORAL, refitting self-training): the
 * adapted figure becomes this adaptation's instead of AdaBN's; null restores AdaBN.
 */
export function setHeldOutAdaptation(adaptation: HeldOutAdaptation | null): void {
  heldOutAdaptation = adaptation;
}

export default defineStage<CrossLabParams>({
  paramsSchema,
  async run(ctx) {
    const p = ctx.params;
    const features = ctx.optionalDep('features');
    if (!features) throw new StageError('cross-lab needs a features instance as a dependency', ctx.instanceId);
    const recordPath = join(features.dir, 'features.json');
    if (!existsSync(recordPath)) throw new StageError('features.json is missing', recordPath);
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as FeaturesRecord;
    const splitJson = JSON.parse(readFileSync(join(ctx.dep('split').dir, 'split.json'), 'utf8')) as { cellsFrom: string };
    // The study's classes are those of the split (sorted, as train orders them when params.classes is null).
    const names = ['train', 'val', 'test'] as const;
    // Only the rows' names are needed: the vectors are read from the features stage.
    const rows = names.map((n) => readSplitCsv(splitCsvPath(ctx.dep('split').dir, n)));
    // Features of only the first few variants per cell (features.variants): fit on what has a vector, as train does.
    rows[0] = rowsWithFeatures(rows[0]!, features.dir, record.variants);
    const classes = [...new Set(rows.flat().map((r) => r.class))].sort();
    const [train, val, test] = rows.map((list) => list.map((r) => ({ ...r, path: '', label: classes.indexOf(r.class) }))) as [LabelledFile[], LabelledFile[], LabelledFile[]];
    const labs = [...new Set([...train, ...val, ...test].map((r) => r.lab))].sort();
    const wanted = p.adapt === 'self-training' ? { ...SELF_TRAINING_DEFAULTS, ...p.selfTraining } : null;
    // Self-training's views are the augment stage's variants of each held-out cell, as far as the features
    // have vectors for them (features.variants); the record keeps how many were used and how they were made,
    // so that pipe predict makes the same of a folder's cells.
    const augment = declaredDep(ctx, 'augment');
    const augmentSettings = augment && existsSync(join(augment.dir, AUGMENT_JSON)) ? (JSON.parse(readFileSync(join(augment.dir, AUGMENT_JSON), 'utf8')) as AugmentSettings) : null;
    const viewCount = wanted && augmentSettings ? Math.min(wanted.views, augmentSettings.variants, record.variants ?? Infinity) : 0;
    const selfTraining = wanted ? { ...wanted, views: viewCount } : null;
    const segment = declaredDep(ctx, 'segment');
    if (p.cellSize && !segment) throw new StageError('params.cellSize needs the segment stage as a dependency (its records give each cell\'s size)', ctx.instanceId);
    const sizes = p.cellSize && segment ? studyCellSizes(segment.dir, p.cellSize.jitter) : null;
    const copies = p.cellSize?.copies ?? 0;
    // Every vector as the heads read it: the features, then the cell's size `copies` times.
    const readRows = async (files: readonly string[]): Promise<Float32Array> => {
      const x = await readFeatureMatrix(features.dir, files, record.dim!);
      return sizes ? appendCellSize(x, record.dim!, files.map((f) => sizes.of(f)), copies) : x;
    };
    const viewsOf = async (cells: readonly LabelledFile[]): Promise<Float32Array[]> => {
      const views: Float32Array[] = [];
      for (let k = 0; k < viewCount; k++) {
        // A cell's file is `<stage>/<rel>`; its variants are `<augment stage>/variants/<cell key>__v<k>.png`.
        const files = cells.map((r) => `${augment!.stageId}/${variantFileName(cellKey(r.file.slice(r.file.indexOf('/') + 1)).key, k)}`);
        views.push(await readRows(files));
      }
      return views;
    };
    const base: Omit<CrossLabRecord, 'status' | 'heldOut' | 'mean' | 'curve'> = {
      arch: record.arch,
      features: `${record.arch}, ${record.weights} weights, ${record.inputSize} px, ${record.dim ?? '?'} values${p.cellSize ? `, then the cell's size relative to its lab ×${p.cellSize.copies}` : ''}`,
      ...(p.cellSize ? { cellSize: p.cellSize } : {}),
      classes,
      labs,
      adapt: p.adapt,
      ...(selfTraining ? { selfTraining } : {}),
      ...(selfTraining && selfTraining.views > 0 ? { views: augmentSettings! } : {}),
      protocol:
        'Leave one lab out: the head is fitted on the cached features of every other lab (train split, early stopping on their val split) and measured on all cells of the held-out lab; labelling curve: k labelled cells per class of the held-out lab, taken session by session (or smear, or cell), join training and the other sessions of that lab are the test set; ' +
        (selfTraining && p.curveSelfTraining
          ? `k > 0 points are self-trained on the rest of the lab too, as pipe predict would on a lab that labelled k cells per class${p.curveAnchors ? ', the labelled cells joining every round with their classes (pipe predict --labelled)' : ''}.`
          : 'k > 0 points are as trained (the head has seen the lab).'),
      ...(selfTraining && p.curveSelfTraining && p.curveAnchors ? { curveAnchors: true } : {}),
    };
    const write = (r: CrossLabRecord) => writeFile(join(ctx.outDir, CROSS_LAB_JSON), json(r));
    if (record.status !== 'computed' || !record.dim) {
      await write({ ...base, status: 'skipped', reason: record.reason ?? 'no features', heldOut: [], mean: { asTrained: meanFigures([]), adapted: null }, curve: [] });
      return;
    }
    if (labs.length < 2) {
      await write({ ...base, status: 'skipped', reason: `one lab only (${labs.join(', ') || 'none'}): nothing to hold out`, heldOut: [], mean: { asTrained: meanFigures([]), adapted: null }, curve: [] });
      ctx.warn('cross-lab: only one lab, nothing to hold out');
      return;
    }
    await initBackend({ prefer: p.backend ?? 'auto' });
    const dim = record.dim + copies;
    const isOriginal = (r: LabelledFile) => r.file.startsWith(`${splitJson.cellsFrom}/`);
    // Every vector once, in memory: the study fits many heads on the same cells.
    const everyRow = [...new Set([...train, ...val, ...test].map((r) => r.file))];
    const rowIndex = new Map(everyRow.map((f, i) => [f, i] as const));
    const matrix = await readRows(everyRow);
    if (p.standardizePerLab) {
      const labOf = new Map([...train, ...val, ...test].map((r) => [r.file, r.lab] as const));
      standardizeRowsByGroup(matrix, dim, everyRow.map((f) => labOf.get(f)!));
    }
    const gather = (rows: readonly LabelledFile[]) => {
      const out = new Float32Array(rows.length * dim);
      rows.forEach((r, i) => out.set(matrix.subarray(rowIndex.get(r.file)! * dim, (rowIndex.get(r.file)! + 1) * dim), i * dim));
      return out;
    };
    const matrixOf = (rows: readonly LabelledFile[]) => ({ x: gather(rows), labels: rows.map((r) => r.label) });
    const heldOut: HeldOutResult[] = [];
    const curve: CurvePoint[] = [];
    const heldOutPredictions: { asTrained: Prediction[]; adapted: Prediction[]; selfTrained: Prediction[] } = { asTrained: [], adapted: [], selfTrained: [] };
    const options = { classes, resamples: p.bootstrap, seed: p.seed };
    const curveKs = [...new Set(p.curve)].sort((a, b) => a - b);
    const total = labs.length * curveKs.length;
    let done = 0;
    for (const lab of labs) {
      const mine = [...train, ...val, ...test].filter((r) => r.lab === lab);
      const cells = mine.filter(isOriginal);
      const others = { train: train.filter((r) => r.lab !== lab), val: val.filter((r) => r.lab !== lab) };
      const valMatrix = others.val.length ? matrixOf(others.val) : null;
      for (const k of curveKs) {
        const { origins, groups } = labelledCells(cells, k, p.seed);
        const added = mine.filter((r) => origins.has(r.origin)); // with their variants, as in training
        const testCells = cells.filter((r) => !groups.has(r.group));
        if (k > 0 && testCells.length === 0) {
          // Every group (session, smear) of the lab holds a chosen cell: nothing is left to score, so no
          // head is fitted; the point is recorded as the empty measurement it is.
          const empty = sourceMetrics(lab, [], options);
          const labelled = added.filter(isOriginal).length;
          curve.push({ lab, k, added: labelled, testN: 0, accuracy: empty.accuracy, balancedAccuracy: empty.balancedAccuracy, macroF1: empty.macroF1, accuracyCi: null });
          ctx.progress(++done, total, `${lab} k=${k}`);
          ctx.log(`held out ${lab}, k=${k}: no test cells left (the groups of its ${labelled} labelled cells cover the whole lab); no head fitted`);
          continue;
        }
        const trainRows = [...others.train, ...added];
        const trainMatrix = matrixOf(trainRows);
        const targets = targetShaping(p, trainRows.map((r) => r.label), classes.length);
        const x = gather(testCells);
        // One head, or an ensemble of `headSeeds` heads (seeds seed, seed + 1, …) whose probabilities are
        // averaged, as trained and each with its own AdaBN.
        const members = p.headSeeds ?? 1;
        let trainedSum: number[][] | null = null;
        let adaptedSum: number[][] | null = null;
        let selfTrainedSum: number[][] | null = null;
        let adaptable = true;
        let epochs = 0;
        // Self-training's views of the held-out cells, read once for every head.
        const selfTrains = !!selfTraining && (k === 0 || !!p.curveSelfTraining);
        const views = selfTrains ? await viewsOf(testCells) : [];
        // The k labelled cells and their variants, with their classes, in every self-training round too, as
        // `pipe predict --labelled` gives a lab's labelled cells.
        const anchors = selfTrains && k > 0 && p.curveAnchors ? matrixOf(added) : undefined;
        const fitHead = async (matrix: HeadMatrix, seed: number, name: string) => {
          const model = headModel(dim, createHeadLayers(classes.length, seed, { standardize: p.standardizeFeatures ?? true, normalization: p.headNormalization ?? 'batch' }));
          const { optimizer, schedule } = createOptimizer(p.optimizer, `${ctx.instanceId} params.optimizer`);
          const result = await fitHeadOnMatrix({
            model,
            optimizer,
            classes: classes.length,
            dim,
            train: matrix,
            batchSize: p.batchSize,
            targets: matrix === trainMatrix ? targets : targetShaping(p, matrix.labels, classes.length),
            val: valMatrix,
            recalibrateBatchNorm: p.recalibrateBatchNorm ?? null,
            epochs: p.epochs,
            seed,
            earlyStopping: p.earlyStopping ?? null,
            stateDir: join(ctx.stateDir, name),
            learningRate: schedule,
            maxStepsPerEpoch: p.maxStepsPerEpoch ?? null,
            signal: ctx.signal,
          });
          return { model, epochs: result.history.length };
        };
        for (let member = 0; member < members; member++) {
          const seed = p.seed + member;
          const name = member === 0 ? `${lab}-k${k}` : `${lab}-k${k}-head${member + 1}`;
          const { model, epochs: fitted } = await fitHead(trainMatrix, seed, name);
          if (member === 0) epochs = fitted;
          trainedSum = addProbabilities(trainedSum, predictFeatureMatrix(model, x, dim));
          if (heldOutAdaptation) {
            const fresh = async (matrix: HeadMatrix, s: number, name: string) => (await fitHead(matrix, s, `${lab}-k${k}-${name}`)).model;
            adaptedSum = addProbabilities(adaptedSum, await heldOutAdaptation({ model, train: trainMatrix, heldOut: x, dim, fitHead: fresh }));
          } else {
            const restore = adaptStandardization(model, x, dim, { classBalanced: p.balancedAdaptation ?? 0 });
            if (restore) adaptedSum = addProbabilities(adaptedSum, predictFeatureMatrix(model, x, dim));
            else adaptable = false;
            restore?.();
          }
          // Last, since it trains the head in place. It starts from the head as trained, as predict's does:
          // on a lab of mostly one class (bccd) AdaBN's standardisation by that class's statistics lowers the
          // figure, and would seed worse labels.
          if (selfTraining && selfTrains) {
            const stateDir = join(ctx.stateDir, `${name}-self-training`);
            selfTrainedSum = addProbabilities(selfTrainedSum, await selfTrainHead(model, x, dim, { settings: selfTraining, seed, stateDir, signal: ctx.signal, views, anchors }));
          }
          model.dispose();
          tf.disposeVariables();
        }
        const predictions = (sum: number[][]) =>
          sum.map((total, i): Prediction => {
            const probabilities = members === 1 ? total : total.map((v) => v / members);
            return { path: testCells[i]!.file, source: lab, trueClass: testCells[i]!.class, predictedClass: classes[argMax(probabilities)]!, probabilities };
          });
        const trainedPredictions = predictions(trainedSum!);
        const asTrained = sourceMetrics(lab, trainedPredictions, options);
        const adaptedPredictions = adaptable && adaptedSum ? predictions(adaptedSum) : null;
        const adapted = adaptedPredictions ? sourceMetrics(lab, adaptedPredictions, options) : null;
        const selfTrainedPredictions = selfTrainedSum ? predictions(selfTrainedSum) : null;
        const selfTrained = selfTrainedPredictions ? sourceMetrics(lab, selfTrainedPredictions, options) : null;
        if (k === 0) {
          heldOutPredictions.asTrained.push(...trainedPredictions);
          heldOutPredictions.adapted.push(...(adaptedPredictions ?? []));
          heldOutPredictions.selfTrained.push(...(selfTrainedPredictions ?? []));
        }
        // AdaBN is for a lab the head has not seen. Once k of its cells per class are in training the head
        // has, and re-estimating the statistics on the rest — whose class mix the taken cells skew —
        // lowered the mean over held-out labs at every k > 0 point (BENCHMARKS.md, Labs); so the curve's
        // figure there is as trained, and the AdaBN figure is kept beside it.
        // Self-training, likewise, runs at k = 0 only unless curveSelfTraining asks for it at every k.
        const headline =
          p.adapt === 'self-training' && selfTrained ? selfTrained : k > 0 ? asTrained : p.adapt === 'adabn' && adapted ? adapted : asTrained;
        if (k === 0) {
          heldOut.push({ lab, trainedOn: labs.filter((l) => l !== lab), trainRows: others.train.length, asTrained, adapted, ...(selfTraining ? { selfTrained } : {}), epochs });
        }
        curve.push({
          lab,
          k,
          added: added.filter(isOriginal).length,
          figure: headline === asTrained ? 'as-trained' : headline === adapted ? 'adabn' : 'self-trained',
          testN: headline.n,
          accuracy: headline.accuracy,
          balancedAccuracy: headline.balancedAccuracy,
          macroF1: headline.macroF1,
          accuracyCi: headline.accuracyCi ? { low: headline.accuracyCi.low, high: headline.accuracyCi.high } : null,
          ...(adapted && headline !== adapted ? { adapted: { accuracy: adapted.accuracy, balancedAccuracy: adapted.balancedAccuracy, macroF1: adapted.macroF1 } } : {}),
          ...(headline !== asTrained ? { asTrained: { accuracy: asTrained.accuracy, balancedAccuracy: asTrained.balancedAccuracy, macroF1: asTrained.macroF1 } } : {}),
        });
        ctx.progress(++done, total, `${lab} k=${k}`);
        const selfTrainedLog = selfTrained ? `; self-trained ${fmt(selfTrained.accuracy)}, balanced ${fmt(selfTrained.balancedAccuracy)}` : '';
        ctx.log(`held out ${lab}, k=${k}: accuracy ${fmt(asTrained.accuracy)} (AdaBN ${fmt(adapted?.accuracy ?? null)}), balanced ${fmt(asTrained.balancedAccuracy)} (AdaBN ${fmt(adapted?.balancedAccuracy ?? null)})${selfTrainedLog} on ${asTrained.n} cells`);
      }
    }
    const adaptedAll = heldOut.every((h) => h.adapted) ? heldOut.map((h) => h.adapted!) : null;
    const selfTrainedAll = heldOut.every((h) => h.selfTrained) ? heldOut.map((h) => h.selfTrained!) : null;
    const mean = {
      asTrained: meanFigures(heldOut.map((h) => h.asTrained)),
      adapted: adaptedAll ? meanFigures(adaptedAll) : null,
      ...(selfTraining ? { selfTrained: selfTrainedAll ? meanFigures(selfTrainedAll) : null } : {}),
    };
    await write({ ...base, status: 'evaluated', heldOut, mean, curve });
    await writeFile(join(ctx.outDir, HELD_OUT_PREDICTIONS.asTrained), predictionsToCsv(heldOutPredictions.asTrained, classes));
    if (heldOutPredictions.adapted.length) await writeFile(join(ctx.outDir, HELD_OUT_PREDICTIONS.adapted), predictionsToCsv(heldOutPredictions.adapted, classes));
    if (heldOutPredictions.selfTrained.length) await writeFile(join(ctx.outDir, HELD_OUT_PREDICTIONS.selfTrained), predictionsToCsv(heldOutPredictions.selfTrained, classes));
    const selfTrainedMean = mean.selfTrained ? `, ${fmt(mean.selfTrained.balancedAccuracy)} self-trained` : '';
    ctx.log(`mean over held-out labs: balanced accuracy ${fmt(mean.asTrained.balancedAccuracy)} as trained, ${fmt(mean.adapted?.balancedAccuracy ?? null)} with AdaBN${selfTrainedMean}`);
  },
});

/** Standardises each row of an [n, dim] matrix, in place, by the mean and variance of the rows of its group. */
export function standardizeRowsByGroup(x: Float32Array, dim: number, groups: readonly string[]): void {
  const members = new Map<string, number[]>();
  groups.forEach((g, i) => (members.get(g) ?? members.set(g, []).get(g)!).push(i));
  for (const rows of members.values()) {
    const mean = new Float64Array(dim);
    const variance = new Float64Array(dim);
    for (const r of rows) for (let d = 0; d < dim; d++) mean[d]! += x[r * dim + d]! / rows.length;
    for (const r of rows) for (let d = 0; d < dim; d++) variance[d]! += (x[r * dim + d]! - mean[d]!) ** 2 / rows.length;
    for (const r of rows) for (let d = 0; d < dim; d++) x[r * dim + d] = (x[r * dim + d]! - mean[d]!) / Math.sqrt(variance[d]! + 1e-3);
  }
}

/** Element-wise sum of per-cell probability rows (the first call copies). */
function addProbabilities(sum: number[][] | null, add: number[][]): number[][] {
  if (!sum) return add.map((row) => [...row]);
  add.forEach((row, i) => row.forEach((v, c) => (sum[i]![c]! += v)));
  return sum;
}

function fmt(v: number | null): string {
  return v === null ? 'n/a' : (v * 100).toFixed(1) + '%';
}
