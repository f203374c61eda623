// train.json: everything evaluate and `pipe predict` need to use a trained model without pipeline.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NormalizeParams } from '../stain/normalize-cell.js';
import type { Preprocessing } from './preprocessing.js';
import type { EpochRecord } from './training-loop.js';

export const TRAIN_JSON = 'train.json';
export const MODEL_DIR = 'model';
/** Stages whose instances publish a usable model in this layout (train.json + model/). */
export const MODEL_STAGES = ['train', 'ensemble'] as const;

export type TrainMode = 'transfer' | 'finetune' | 'scratch';

export interface CellOptions {
  size: number;
  margin: number;
  [key: string]: unknown;
}

export interface TrainRecord {
  schemaVersion: 1;
  instanceId: string;
  arch: string;
  mode: TrainMode;
  status: 'trained' | 'skipped';
  /** Why the model was not trained (status skipped), with what to do about it. */
  reason?: string;
  classes: string[];
  inputSize: number;
  preprocessing: Preprocessing;
  weights: 'imagenet' | 'random' | null;
  /** How a raw image becomes the canonical cell (segment's options), and its colour normalisation. */
  cell: CellOptions | null;
  normalization: NormalizeParams | null;
  /**
   * The model's second input, the cell's size relative to its lab (cell-size.ts): read `copies` times by the head,
   * variants ± `jitter` in training, a lab's median over all its cells (`lab`). Null or absent: the image alone.
   */
  cellSize?: { copies: number; jitter: number; median: 'lab' } | null;
  /** The source name of the training data (split CSV `source`). */
  sources: string[];
  params: Record<string, unknown>;
  /** `headTrain`: images the transfer head trained on, where features cover only some variants (fewer than `train`). */
  data: { train: number; val: number; headTrain?: number; trainFeatures?: string };
  epochs: {
    planned: number;
    completed: number;
    /** Epoch whose weights were saved (lowest validation loss). */
    kept: number | null;
    stoppedEarly: boolean;
    resumedFrom: number | null;
  };
  best: EpochRecord | null;
  /** Trainable parameters of what was trained, and total parameters of the saved model. */
  parameters: { trainable: number; total: number } | null;
  backend: unknown;
  versions: Record<string, string>;
  seconds: { wall: number; training: number };
}

/** Finds `train.json` and `model/` from a train instance's output dir or from the model dir itself. */
export function locateTrainedModel(path: string): { root: string; modelDir: string; record: TrainRecord } {
  const candidates = [path, join(path, '..')];
  for (const root of candidates) {
    const recordPath = join(root, TRAIN_JSON);
    if (existsSync(recordPath) && existsSync(join(root, MODEL_DIR, 'model.json'))) {
      return { root, modelDir: join(root, MODEL_DIR), record: readTrainRecord(recordPath) };
    }
  }
  const recordPath = join(path, TRAIN_JSON);
  if (existsSync(recordPath)) {
    const record = readTrainRecord(recordPath);
    if (record.status === 'skipped') throw new Error(`${path}: this model was not trained (${record.reason ?? 'skipped'})`);
  }
  throw new Error(`${path}: not a trained model (expected ${TRAIN_JSON} and ${MODEL_DIR}/model.json here)`);
}

/** train.json, parsed; a file that is not JSON, or not a train record, is named. */
function readTrainRecord(recordPath: string): TrainRecord {
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(recordPath, 'utf8'));
  } catch (error) {
    throw new Error(`${recordPath}: not valid JSON (${(error as Error).message})`);
  }
  if (!record || typeof record !== 'object' || !Array.isArray((record as TrainRecord).classes)) {
    throw new Error(`${recordPath}: not a train record (no "classes" list)`);
  }
  return record as TrainRecord;
}
