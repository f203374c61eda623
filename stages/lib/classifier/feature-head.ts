// The study's head fitted on cached feature vectors (transfer mode): what `train` does for one model and
// the cross-lab study does for every held-out lab and labelling budget. Seconds per head, not minutes.
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { createHeadLayers, headModel } from './graph-surgery.js';
import { createOptimizer, type OptimizerParams } from './optimizer.js';
import type { EarlyStopping, FitResult } from './training-loop.js';
import { targetShaping } from './loss-targets.js';
import { fitHeadOnMatrix, type HeadMatrix } from './fit-head.js';
import { readFeatureMatrix } from './feature-matrix.js';
import { featureVectorPath } from '../records/features-record.js';
import { appendCellSize } from './cell-size.js';

export interface HeadSettings {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerParams;
  earlyStopping: EarlyStopping | null;
  seed: number;
  standardizeFeatures?: boolean;
  /** The feature standardisation: BatchNormalization (default; AdaBN can adapt it) or LayerNormalization. */
  headNormalization?: 'batch' | 'layer';
  recalibrateBatchNorm?: number | null;
  maxStepsPerEpoch?: number | null;
  /** 'balanced': each class's cells weigh n / (classes · nᶜ) in the loss (loss-targets.ts); default 'none'. */
  classWeights?: 'none' | 'balanced';
  /** ε of label smoothing (0–0.5); default 0. */
  labelSmoothing?: number;
}

/** The JSON Schema properties of HeadSettings' optional loss settings, for the stages that take them. */
export const lossTargetSchema = {
  classWeights: { enum: ['none', 'balanced'] },
  labelSmoothing: { type: 'number', minimum: 0, maximum: 0.5 },
};

export interface FeatureRow {
  /** `<stageId>/<rel>` of the image, as split CSVs name it. */
  file: string;
  label: number;
}

/** Where the features stage keeps the vector of `file` (`<stageId>/<rel>`). */
export function featureFile(featuresDir: string, file: string): string {
  return join(featuresDir, featureVectorPath(file));
}

/** The rows that have a cached vector: all of them unless features.variants capped the variants. */
export function rowsWithFeatures<T extends { file: string }>(rows: T[], featuresDir: string, variants: number | null | undefined): T[] {
  return variants == null ? rows : rows.filter((row) => existsSync(featureFile(featuresDir, row.file)));
}

export async function fitFeatureHead(options: {
  classes: number;
  dim: number;
  featuresDir: string;
  train: readonly FeatureRow[];
  val: readonly FeatureRow[];
  settings: HeadSettings;
  stateDir: string;
  subject: string;
  /** The cell's size relative to its lab, read `copies` times after each vector (cell-size.ts). */
  cellSize?: { copies: number; of(file: string): number } | null;
  signal?: AbortSignal;
  log?: (m: string) => void;
  progress?: (done: number, total: number, label?: string) => void;
}): Promise<{ head: tf.layers.Layer[]; model: tf.LayersModel; result: FitResult }> {
  const { classes, featuresDir, settings: p } = options;
  const size = options.cellSize ?? null;
  const dim = options.dim + (size?.copies ?? 0);
  const head = createHeadLayers(classes, p.seed, { standardize: p.standardizeFeatures ?? true, normalization: p.headNormalization ?? 'batch' });
  const model = headModel(dim, head);
  const { optimizer, schedule } = createOptimizer(p.optimizer, `${options.subject} optimizer`);
  // Every vector in memory once (a few tens of MB): epochs then cost no file reads.
  const matrix = async (rows: readonly FeatureRow[]): Promise<HeadMatrix> => {
    const x = await readFeatureMatrix(featuresDir, rows.map((r) => r.file), options.dim);
    return { x: size ? appendCellSize(x, options.dim, rows.map((r) => size.of(r.file)), size.copies) : x, labels: rows.map((r) => r.label) };
  };
  const result = await fitHeadOnMatrix({
    model,
    optimizer,
    classes,
    dim,
    train: await matrix(options.train),
    val: options.val.length ? await matrix(options.val) : null,
    batchSize: p.batchSize,
    recalibrateBatchNorm: p.recalibrateBatchNorm ?? null,
    epochs: p.epochs,
    seed: p.seed,
    earlyStopping: p.earlyStopping ?? null,
    stateDir: options.stateDir,
    learningRate: schedule,
    maxStepsPerEpoch: p.maxStepsPerEpoch ?? null,
    targets: targetShaping(p, options.train.map((r) => r.label), classes),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.progress ? { progress: options.progress } : {}),
  });
  return { head, model, result };
}
