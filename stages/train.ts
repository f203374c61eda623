// train: one model per architecture × mode.
//   transfer — the study's head, Dense(256, relu) → Dropout(0.5) → Dense(classes, softmax), fitted on
//              the cached features of the frozen ImageNet base (seconds), then stacked on the base.
//   finetune — the same head first, then the top of the base unfrozen and trained with it on images
//              (the frozen bottom runs in inference mode, outside the gradient tape).
//   scratch  — the whole network from a seeded random initialisation, on images.
// Batches stream from disk in a seeded order; every epoch writes a checkpoint (in ctx.stateDir, so a
// killed run resumes) and a line of history.jsonl. Output: model/ (the whole inference model),
// history.jsonl and train.json (what evaluate and `pipe predict` need, plus backend and timing).
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage, StageError, type StageContext } from '../pipeline/stage-api.js';
import { getArchitecture } from './models/registry.js';
import type { ArchSpec } from './models/arch-spec.js';
import { initBackend } from './tf/backend.js';
import { declaredDep } from './lib/deps/declared-dep.js';
import { normalizeParamsSchema, type NormalizeParams } from './lib/stain/normalize-cell.js';
import { imageBatchSource } from './lib/classifier/batch-source.js';
import { BottomOutputCache, frozenBottomSource } from './lib/classifier/frozen-bottom-source.js';
import { fitFeatureHead, lossTargetSchema, rowsWithFeatures } from './lib/classifier/feature-head.js';
import { buildPooledBase, missingWeightsReason } from './lib/classifier/base-model.js';
import { seededReinitialize } from './lib/classifier/seeded-init.js';
import { layerBefore, splitModel, stackModel, applyLayers } from './lib/classifier/graph-surgery.js';
import { saveModelToDirectory } from './lib/classifier/model-directory.js';
import { createOptimizer, type OptimizerParams } from './lib/classifier/optimizer.js';
import { assertPreprocessing, type Preprocessing } from './lib/classifier/preprocessing.js';
import { readLabelledSplit, type LabelledFile } from './lib/classifier/split-table.js';
import { readSplitCsv, splitCsvPath } from './lib/records/split-csv.js';
import { MODEL_DIR, TRAIN_JSON, type CellOptions, type TrainMode, type TrainRecord } from './lib/classifier/train-record.js';
import { recordedNormalization, segmentCellOptions } from './lib/classifier/prediction-settings.js';
import { fit, type EarlyStopping, type EpochRecord, type FitResult } from './lib/classifier/training-loop.js';
import type { FeaturesRecord } from './lib/records/features-record.js';
import { cellSizeSchema, joinCellSize, withCellSizeInput, type CellSizeSettings } from './lib/classifier/cell-size.js';
import { studyCellSizes } from './lib/classifier/study-cell-sizes.js';

export interface TrainParams {
  arch: string;
  mode: TrainMode;
  /** Class order of the model's output; null → the sorted classes of the split. */
  classes: string[] | null;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerParams;
  earlyStopping: EarlyStopping | null;
  seed: number;
  /** scratch: square input size (null → the architecture's default, `min` → its smallest). transfer/finetune take the features' size. */
  inputSize: number | 'min' | null;
  /** scratch: pixel preprocessing (`auto` → the architecture's Keras mode). */
  preprocessing: Preprocessing | 'auto';
  /** At most this many optimizer steps per epoch (smoke runs); null = the whole training split. */
  maxStepsPerEpoch: number | null;
  /** `fromLayer`: first layer of the base to train; null → the architecture's own (`finetuneFrom`). */
  finetune: { fromLayer?: string | null; epochs: number; batchSize?: number; optimizer: OptimizerParams; earlyStopping?: EarlyStopping | null };
  /** scratch: overrides of the settings above (training on images costs far more than a head on features). */
  scratch?: { epochs?: number; batchSize?: number; optimizer?: OptimizerParams; earlyStopping?: EarlyStopping | null; inputSize?: number | 'min' | null };
  /** Fallbacks when the segment/normalize outputs do not record their own settings. */
  cell: CellOptions;
  normalize: NormalizeParams | null;
  /**
   * Training batches from which BatchNormalization statistics are re-estimated before
   * each validation (batch-norm-recalibration.ts); 0 or null keeps Keras's moving averages.
   */
  recalibrateBatchNorm?: number | null;
  /** transfer/finetune: a BatchNormalization of the features before the study's head (graph-surgery.ts). */
  standardizeFeatures?: boolean;
  /** transfer: class weights and label smoothing of the head's loss (loss-targets.ts). */
  classWeights?: 'none' | 'balanced';
  labelSmoothing?: number;
  /**
   * Fit on these labs' train and val rows only (absent or null: every lab): a model that has never seen the
   * other labs, for a leave-one-lab-out check of a mode cross-lab does not cover (finetune, scratch).
   */
  trainLabs?: string[] | null;
  /**
   * transfer and finetune: the cell's size relative to its lab as the model's second input (cell-size.ts), read
   * `copies` times by the head, augmented variants' ± `jitter`; null or absent: the image alone. scratch takes the image alone.
   */
  cellSize?: CellSizeSettings | null;
  backend: string;
}

const optimizerSchema = {
  type: 'object',
  properties: {
    name: { enum: ['adam', 'rmsprop', 'sgd'] },
    learningRate: { type: 'number', exclusiveMinimum: 0 },
    decay: { type: 'number', minimum: 0 },
    rho: { type: 'number' },
    momentum: { type: 'number' },
  },
  required: ['name', 'learningRate'],
};
const earlyStoppingSchema = {
  type: ['object', 'null'],
  properties: { patience: { type: 'integer', minimum: 1 }, minDelta: { type: 'number', minimum: 0 } },
  required: ['patience'],
};

const paramsSchema = {
  type: 'object',
  properties: {
    arch: { type: 'string', minLength: 1 },
    mode: { enum: ['transfer', 'finetune', 'scratch'] },
    cellSize: cellSizeSchema,
    classes: { type: ['array', 'null'], items: { type: 'string' } },
    epochs: { type: 'integer', minimum: 1 },
    batchSize: { type: 'integer', minimum: 1 },
    optimizer: optimizerSchema,
    earlyStopping: earlyStoppingSchema,
    seed: { type: 'integer' },
    inputSize: { anyOf: [{ type: 'integer', minimum: 8 }, { type: 'null' }, { const: 'min' }] },
    preprocessing: { enum: ['auto', 'rescale', 'tf', 'caffe', 'torch'] },
    maxStepsPerEpoch: { type: ['integer', 'null'], minimum: 1 },
    finetune: {
      type: 'object',
      properties: {
        fromLayer: { type: ['string', 'null'] },
        epochs: { type: 'integer', minimum: 1 },
        batchSize: { type: 'integer', minimum: 1 },
        optimizer: optimizerSchema,
        earlyStopping: earlyStoppingSchema,
      },
    },
    scratch: {
      type: 'object',
      properties: {
        epochs: { type: 'integer', minimum: 1 },
        batchSize: { type: 'integer', minimum: 1 },
        optimizer: optimizerSchema,
        earlyStopping: earlyStoppingSchema,
        inputSize: { anyOf: [{ type: 'integer', minimum: 8 }, { type: 'null' }, { const: 'min' }] },
      },
    },
    standardizeFeatures: { type: 'boolean' },
    trainLabs: { type: ['array', 'null'], items: { type: 'string', minLength: 1 }, minItems: 1 },
    headNormalization: { enum: ['batch', 'layer'] },
    ...lossTargetSchema,
    recalibrateBatchNorm: { type: ['integer', 'null'], minimum: 0 },
    backend: { type: 'string' },
    // How predict cuts a foreign image to a cell when segment's summary gives no options (cellOptions below).
    cell: { type: ['object', 'null'], properties: { size: { type: 'integer', minimum: 1 }, margin: { type: 'number', minimum: 0 } } },
    // The normalisation recorded for predict when normalize's own record is missing (null: none).
    normalize: { anyOf: [normalizeParamsSchema, { type: 'null' }] },
  },
  required: ['arch', 'mode', 'epochs', 'batchSize', 'optimizer'],
};

type Ctx = StageContext<TrainParams>;

/**
 * The output dir behind a dep name of pipeline.json (`deps: { "normalize": "normalize", … }`): null when the
 * pipeline declares no such dep (a study without stain normalisation) or an optional one matched nothing.
 */
function depDir(ctx: Ctx, name: 'split' | 'segment' | 'normalize' | 'features' | 'weights'): string | null {
  return declaredDep(ctx, name)?.dir ?? null;
}

function requiredSegment(ctx: Ctx): string {
  const dir = depDir(ctx, 'segment');
  if (!dir) throw new StageError('params.cellSize needs the segment stage as a dependency (its records give each cell\'s size)', ctx.instanceId);
  return dir;
}

function readJsonIfPresent<T>(path: string): T | null {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : null;
}

/**
 * The segment stage's canonical-cell options (its summary.json `params`), else the `cell` param with the
 * size read off a training cell, so that predict cuts foreign images to what training saw.
 */
async function cellOptions(ctx: Ctx, train: LabelledFile[]): Promise<CellOptions> {
  const segment = depDir(ctx, 'segment');
  const fromSegment = segment ? segmentCellOptions(segment, ctx.params.cell?.margin ?? 0.1) : null;
  if (fromSegment) return fromSegment;
  const fallback = ctx.params.cell ?? { size: 128, margin: 0.1 };
  const original = train.find((r) => r.file.includes('/cells/')) ?? train[0];
  const width = original ? (await sharp(original.path).metadata()).width : undefined;
  return { ...fallback, size: width ?? fallback.size };
}

function normalization(ctx: Ctx): NormalizeParams | null {
  const dir = depDir(ctx, 'normalize');
  return (dir ? recordedNormalization(dir) : null) ?? ctx.params.normalize ?? null;
}

function studyClasses(ctx: Ctx, splits: LabelledFile[][] | null): string[] {
  if (ctx.params.classes && ctx.params.classes.length > 0) return ctx.params.classes;
  const splitDirPath = depDir(ctx, 'split');
  const splitJson = splitDirPath ? readJsonIfPresent<{ classes?: string[] }>(join(splitDirPath, 'split.json')) : null;
  if (splitJson?.classes?.length) return splitJson.classes;
  if (!splits) throw new StageError('cannot tell the classes: set params.classes', ctx.instanceId);
  return [...new Set(splits.flat().map((r) => r.class))].sort();
}

function readSplits(ctx: Ctx): { classes: string[]; train: LabelledFile[]; val: LabelledFile[] } {
  let classes: string[];
  try {
    classes = studyClasses(ctx, null);
  } catch {
    // No class list anywhere: take the sorted set of the CSVs' classes.
    const dir = depDir(ctx, 'split');
    if (!dir) throw new StageError('the split stage is not a dependency', ctx.instanceId);
    classes = [...new Set((['train', 'val'] as const).flatMap((n) => readSplitCsv(splitCsvPath(dir, n)).map((r) => r.class)))].sort();
  }
  let train = readLabelledSplit(ctx.dep('split'), ctx.deps, 'train', classes);
  let val = readLabelledSplit(ctx.dep('split'), ctx.deps, 'val', classes);
  const only = ctx.params.trainLabs;
  if (only) {
    const labs = new Set([...train, ...val].map((r) => r.lab));
    const unknown = only.filter((l) => !labs.has(l));
    if (unknown.length) throw new StageError(`params.trainLabs names ${unknown.join(', ')}, not a lab of the split (${[...labs].sort().join(', ')})`, ctx.instanceId);
    train = train.filter((r) => only.includes(r.lab));
    val = val.filter((r) => only.includes(r.lab));
  }
  if (train.length === 0) throw new StageError('the training split is empty', `${depDir(ctx, 'split')}/train.csv`);
  return { classes, train, val };
}

function countParameters(model: tf.LayersModel): { trainable: number; total: number } {
  const size = (ws: tf.LayerVariable[]) => ws.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  return { trainable: size(model.trainableWeights), total: size(model.weights) };
}

function bestRecord(history: EpochRecord[], epoch: number | null): EpochRecord | null {
  return history.find((r) => r.epoch === epoch) ?? history[history.length - 1] ?? null;
}

function versions(ctx: Ctx): Record<string, string> {
  const pkg = readJsonIfPresent<{ version?: string }>(join(ctx.workspace, 'package.json'));
  return { leukopipe: pkg?.version ?? 'unknown', tfjs: tf.version.tfjs, 'tfjs-layers': tf.version_layers, node: process.version };
}

interface Phase {
  name: string;
  result: FitResult;
}

/** Fits the study's head on cached features; returns the head layers (trained) and the features record. */
async function trainHead(ctx: Ctx, classes: string[], train: LabelledFile[], val: LabelledFile[], features: FeaturesRecord, featuresDir: string, cellSize: { copies: number; of(file: string): number } | null) {
  const p = ctx.params;
  const dim = features.dim;
  if (!dim) throw new StageError('features.json gives no vector length (no features were computed)', `${featuresDir}/features.json`);
  // Features of only the first few variants per cell (features.variants): train on what has a vector.
  if (features.variants != null) {
    const before = train.length;
    train = rowsWithFeatures(train, featuresDir, features.variants);
    ctx.log(`head: ${train.length} of ${before} training images have features (features.variants = ${features.variants})`);
  }
  const { head, model, result } = await fitFeatureHead({
    classes: classes.length,
    dim,
    featuresDir,
    train,
    val,
    settings: { ...p, seed: p.seed ?? 1, earlyStopping: p.earlyStopping ?? null },
    stateDir: join(ctx.stateDir, 'head'),
    subject: `${ctx.instanceId} params`,
    cellSize,
    signal: ctx.signal,
    log: (m) => ctx.log(`head ${m}`),
    progress: (d, t) => ctx.progress(d, t, 'head'),
  });
  return { head, result, headParams: countParameters(model), headRows: train.length };
}

/** Memory for a fine-tune's kept bottom outputs; images beyond it are run through the bottom each time. */
const BOTTOM_CACHE_BYTES = 2 ** 31;

async function imageSources(classes: string[], train: LabelledFile[], val: LabelledFile[], size: number, preprocessing: Preprocessing, batchSize: number) {
  const opts = { classes: classes.length, size, preprocessing };
  return {
    train: imageBatchSource(train, { ...opts, batchSize }),
    val: val.length ? imageBatchSource(val, { ...opts, batchSize: Math.max(batchSize, 32) }) : null,
  };
}

export default defineStage<TrainParams>({
  paramsSchema,
  async run(ctx) {
    const started = performance.now();
    const p = ctx.params;
    const backend = await initBackend({ prefer: p.backend ?? 'auto' });
    const spec: ArchSpec = await getArchitecture(p.arch);
    const { classes, train, val } = readSplits(ctx);
    const cell = await cellOptions(ctx, train);
    const norm = normalization(ctx);
    const phases: Phase[] = [];
    let inference: tf.LayersModel | null = null;
    let trainedParams: { trainable: number; total: number } | null = null;
    let inputSize: number;
    let preprocessing: Preprocessing;
    let weights: TrainRecord['weights'];
    let skipped: string | null = null;
    let featuresNote: string | undefined;
    /** Training images the head saw, where fewer than the split's (features of only some variants). */
    let headRows: number | null = null;
    let cellSizeRecord: TrainRecord['cellSize'] = null;

    if (p.mode === 'transfer' || p.mode === 'finetune') {
      const featuresDir = depDir(ctx, 'features');
      if (!featuresDir) throw new StageError(`mode ${p.mode} needs a features[arch=${p.arch}] dependency`, ctx.instanceId);
      const features = readJsonIfPresent<FeaturesRecord>(join(featuresDir, 'features.json'));
      if (!features) throw new StageError('features.json is missing', featuresDir);
      inputSize = features.inputSize;
      preprocessing = features.preprocessing;
      weights = features.weights;
      featuresNote = `${features.arch}, ${features.weights} weights, ${features.inputSize} px, ${features.preprocessing}, ${features.dim} values`;
      if (features.status === 'skipped') {
        skipped = `skipped: ${features.reason ?? 'no features'}`;
      } else {
        const weightsDir = depDir(ctx, 'weights');
        if (features.weights === 'imagenet') {
          const missing = missingWeightsReason(p.arch, weightsDir);
          if (missing) throw new StageError(missing, ctx.instanceId);
        }
        // The cell's size: beside the pooled features in the head phase, and beside the top's in fine-tuning.
        const cellSize = p.cellSize ?? null;
        const sizes = cellSize ? { copies: cellSize.copies, of: studyCellSizes(requiredSegment(ctx), cellSize.jitter).of } : null;
        const { head, result, headParams, headRows: rows } = await trainHead(ctx, classes, train, val, features, featuresDir, sizes);
        headRows = rows;
        phases.push({ name: 'head', result });
        trainedParams = headParams;
        const { model: base } = await buildPooledBase(spec, inputSize, features.weights, { weightsDir, seed: features.seed, levels: features.levels });
        if (p.mode === 'finetune') {
          const ft = p.finetune;
          const fromLayer = ft?.fromLayer ?? spec.finetuneFrom;
          if (!fromLayer) {
            throw new StageError(`${spec.name} names no layer to fine-tune from: set params.finetune.fromLayer (first layer of the base to train)`, ctx.instanceId);
          }
          let parts: { bottom: tf.LayersModel; top: tf.LayersModel };
          try {
            parts = splitModel(base, layerBefore(base, fromLayer));
          } catch (error) {
            throw new StageError((error as Error).message, `${ctx.instanceId} params.finetune.fromLayer`);
          }
          const sized = cellSize ? joinCellSize(parts.top.outputs[0]!, cellSize.copies) : null;
          const trainable = tf.model({
            inputs: sized ? [...parts.top.inputs, sized.input] : parts.top.inputs,
            outputs: applyLayers(sized ? sized.joined : parts.top.outputs[0]!, head),
            name: 'finetune_top',
          });
          const { optimizer, schedule } = createOptimizer(ft.optimizer, `${ctx.instanceId} params.finetune.optimizer`);
          const batchSize = ft.batchSize ?? p.batchSize;
          // The frozen bottom's output of each image, computed once for every epoch (frozen-bottom-source.ts).
          const cache = new BottomOutputCache(BOTTOM_CACHE_BYTES);
          const opts = { classes: classes.length, size: inputSize, preprocessing, bottom: parts.bottom, cache, sizeOf: sizes ? (row: LabelledFile) => sizes.of(row.file) : null };
          const result2 = await fit({
            model: trainable,
            optimizer,
            train: frozenBottomSource(train, { ...opts, batchSize }),
            val: val.length ? frozenBottomSource(val, { ...opts, batchSize: Math.max(batchSize, 32) }) : null,
            recalibrateBatchNorm: p.recalibrateBatchNorm ?? null,
            epochs: ft.epochs,
            seed: (p.seed ?? 1) + 1,
            earlyStopping: ft.earlyStopping ?? p.earlyStopping ?? null,
            stateDir: join(ctx.stateDir, 'finetune'),
            learningRate: schedule,
            maxStepsPerEpoch: p.maxStepsPerEpoch ?? null,
            signal: ctx.signal,
            log: (m) => ctx.log(`finetune ${m}`),
            progress: (d, t) => ctx.progress(d, t, 'finetune'),
          });
          ctx.log(`finetune: the frozen bottom's outputs of ${cache.images} images kept (${cache.megabytes} MB)` + (cache.overflow ? `; ${cache.overflow} over the ${BOTTOM_CACHE_BYTES / 2 ** 30} GiB budget computed each time` : ''));
          phases.push({ name: 'finetune', result: result2 });
          trainedParams = countParameters(trainable);
        }
        inference = stackModel(cellSize ? withCellSizeInput(base, cellSize.copies) : base, head, `${spec.kerasName}_${p.mode}`);
        if (cellSize) cellSizeRecord = { ...cellSize, median: 'lab' };
      }
    } else if (p.mode === 'scratch') {
      const sc = { ...p, ...(p.scratch ?? {}) };
      inputSize = sc.inputSize === 'min' ? spec.minInputSize : (sc.inputSize ?? spec.defaultInputSize);
      if (inputSize < spec.minInputSize) {
        throw new StageError(`${spec.kerasName} needs at least ${spec.minInputSize} px, got ${inputSize}`, `${ctx.instanceId} params.inputSize`);
      }
      preprocessing = assertPreprocessing(!p.preprocessing || p.preprocessing === 'auto' ? spec.preprocessing : p.preprocessing, `${ctx.instanceId} params.preprocessing`);
      weights = null;
      const model = spec.build([inputSize, inputSize, 3], { includeTop: true, classes: classes.length, classifierActivation: 'softmax' });
      seededReinitialize(model, p.seed ?? 1);
      const { optimizer, schedule } = createOptimizer(sc.optimizer, `${ctx.instanceId} params.scratch.optimizer`);
      const sources = await imageSources(classes, train, val, inputSize, preprocessing, sc.batchSize);
      const result = await fit({
        model,
        optimizer,
        ...sources,
        epochs: sc.epochs,
        seed: p.seed ?? 1,
        earlyStopping: sc.earlyStopping ?? null,
        stateDir: join(ctx.stateDir, 'scratch'),
        recalibrateBatchNorm: p.recalibrateBatchNorm ?? null,
        learningRate: schedule,
        maxStepsPerEpoch: p.maxStepsPerEpoch ?? null,
        signal: ctx.signal,
        log: ctx.log.bind(ctx),
        progress: (d, t) => ctx.progress(d, t, 'scratch'),
      });
      phases.push({ name: 'scratch', result });
      trainedParams = countParameters(model);
      inference = model;
    } else {
      throw new StageError(`mode must be transfer, finetune or scratch, got ${JSON.stringify(p.mode)}`, `${ctx.instanceId} params.mode`);
    }

    // Outputs: the model, the history of every phase, and the record.
    const history = phases.flatMap((ph) => ph.result.history.map((r) => ({ phase: ph.name, ...r })));
    await writeFile(join(ctx.outDir, 'history.jsonl'), history.map((r) => JSON.stringify(r) + '\n').join(''));
    if (inference) {
      await mkdir(join(ctx.outDir, MODEL_DIR), { recursive: true });
      await saveModelToDirectory(inference, join(ctx.outDir, MODEL_DIR));
    }
    const last = phases[phases.length - 1]?.result ?? null;
    const record: TrainRecord = {
      schemaVersion: 1,
      instanceId: ctx.instanceId,
      arch: spec.name,
      mode: p.mode,
      status: skipped ? 'skipped' : 'trained',
      ...(skipped ? { reason: skipped } : {}),
      classes,
      inputSize,
      preprocessing,
      weights,
      cell,
      normalization: norm,
      cellSize: cellSizeRecord,
      sources: [...new Set(train.map((r) => r.lab).filter((s) => s !== ''))].sort(),
      params: p as unknown as Record<string, unknown>,
      data: {
        train: train.length,
        val: val.length,
        ...(headRows !== null && headRows !== train.length ? { headTrain: headRows } : {}),
        ...(featuresNote ? { trainFeatures: featuresNote } : {}),
      },
      epochs: {
        planned: phases.reduce(
          (n, ph) => n + (ph.name === 'finetune' ? p.finetune.epochs : ph.name === 'scratch' ? (p.scratch?.epochs ?? p.epochs) : p.epochs),
          0,
        ),
        completed: phases.reduce((n, ph) => n + ph.result.state.epochsDone, 0),
        kept: last ? last.weightsFromEpoch : null,
        stoppedEarly: phases.some((ph) => ph.result.state.stoppedEarly),
        resumedFrom: phases.find((ph) => ph.result.resumedFromEpoch !== null)?.result.resumedFromEpoch ?? null,
      },
      best: last ? bestRecord(last.history, last.weightsFromEpoch) : null,
      parameters: inference && trainedParams ? { trainable: trainedParams.trainable, total: countParameters(inference).total } : null,
      backend,
      versions: versions(ctx),
      seconds: {
        wall: Math.round((performance.now() - started) / 10) / 100,
        training: Math.round(phases.reduce((s, ph) => s + ph.result.state.seconds, 0) * 100) / 100,
      },
    };
    await writeFile(join(ctx.outDir, TRAIN_JSON), JSON.stringify(record, null, 2) + '\n');
    if (skipped) ctx.warn(`${ctx.instanceId}: ${skipped}`);
    else ctx.log(`${ctx.instanceId}: trained in ${record.seconds.wall} s; kept epoch ${record.epochs.kept} (val_acc ${record.best?.val_accuracy ?? 'n/a'})`);
  },
});
