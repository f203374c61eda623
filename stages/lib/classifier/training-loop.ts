// The training loop every mode shares: streamed batches, a checkpoint and a JSONL line per epoch,
// resume from the last checkpoint, early stopping on validation loss, and the best epoch's weights kept.
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BatchSource } from './batch-source.js';
import { epochSeed } from './batch-source.js';
import { recalibrateBatchNorm } from './batch-norm-recalibration.js';
import { shapeTargets, type TargetShaping } from './loss-targets.js';
import { mulberry32 } from '../random.js';
import {
  hasCheckpoint,
  loadCheckpoint,
  loadWeightsSnapshot,
  saveCheckpoint,
  saveWeightsSnapshot,
  type LoopState,
} from './checkpoint.js';

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss: number | null;
  val_accuracy: number | null;
  seconds: number;
  learning_rate: number;
}

export interface EarlyStopping {
  /** Epochs without improvement of the validation loss before stopping. */
  patience: number;
  /** Smallest decrease that counts as an improvement. */
  minDelta?: number;
}

export interface FitOptions {
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  train: BatchSource;
  val: BatchSource | null;
  epochs: number;
  seed: number;
  earlyStopping: EarlyStopping | null;
  /** Survives a crash: checkpoints and the history written so far live here. */
  stateDir: string;
  /** Learning rate of step `step` (0-based); null keeps the optimizer's own. */
  learningRate?: ((step: number) => number) | null;
  /**
   * Before each epoch's validation, re-estimate BatchNormalization statistics from this many training
   * batches (batch-norm-recalibration.ts); 0 or null keeps the moving averages.
   */
  recalibrateBatchNorm?: number | null;
  /** Stop after at most this many steps per epoch (smoke runs). */
  maxStepsPerEpoch?: number | null;
  /** Class weights and label smoothing of the training loss (validation stays on the plain labels). */
  targets?: TargetShaping | null;
  signal?: AbortSignal;
  log?: (message: string) => void;
  progress?: (done: number, total: number, label?: string) => void;
}

export interface FitResult {
  history: EpochRecord[];
  state: LoopState;
  /** Epochs that a previous, interrupted run had already completed. */
  resumedFromEpoch: number | null;
  /** Epoch (1-based) whose weights the model now holds. */
  weightsFromEpoch: number;
}

const HISTORY = 'history.jsonl';

export async function readHistory(path: string): Promise<EpochRecord[]> {
  if (!existsSync(path)) return [];
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as EpochRecord);
}

/** Mean categorical cross-entropy and accuracy of the model over a source, in inference mode. */
export async function evaluateSource(
  model: tf.LayersModel,
  source: BatchSource,
): Promise<{ loss: number; accuracy: number }> {
  let lossSum = 0;
  let correct = 0;
  let n = 0;
  for await (const batch of source.batches(null)) {
    const [loss, hits] = tf.tidy(() => {
      const p = (model.predict(batch.x) as tf.Tensor).clipByValue(1e-7, 1 - 1e-7);
      const l = tf.neg(tf.sum(tf.mul(batch.y, tf.log(p)), -1)).sum();
      const h = tf.equal(tf.argMax(p, -1), tf.argMax(batch.y, -1)).sum();
      return [l, h];
    });
    lossSum += (await loss.data())[0]!;
    correct += (await hits.data())[0]!;
    n += batch.size;
    tf.dispose([loss, hits, batch.x, batch.y]);
  }
  return n === 0 ? { loss: NaN, accuracy: NaN } : { loss: lossSum / n, accuracy: correct / n };
}

/** The generator Math.random becomes for epoch `epoch` (1-based) of a run seeded with `seed` (tfjs's dropout draws from it). */
export function epochRandom(seed: number, epoch: number): () => number {
  return mulberry32(epochSeed(seed, epoch - 1) ^ 0x5eed5eed);
}

/** Drops the history lines after the last checkpoint (a kill between the two writes leaves one behind). */
export async function trimHistory(historyPath: string, epochsDone: number): Promise<void> {
  const kept = (await readHistory(historyPath)).filter((r) => r.epoch <= epochsDone);
  await writeFile(historyPath, kept.map((r) => JSON.stringify(r) + '\n').join(''));
}

/**
 * Early stopping's bookkeeping after epoch `epoch`'s validation loss: true when it improved on the best so
 * far by more than `minDelta` (the caller keeps these weights); after `patience` epochs without, it stops.
 */
export function improvedOnValidation(state: LoopState, epoch: number, valLoss: number, minDelta: number, patience: number): boolean {
  if (!Number.isFinite(valLoss)) return false;
  if (state.bestValLoss === null || valLoss < state.bestValLoss - minDelta) {
    state.bestValLoss = valLoss;
    state.bestEpoch = epoch;
    state.epochsWithoutImprovement = 0;
    return true;
  }
  state.epochsWithoutImprovement += 1;
  if (state.epochsWithoutImprovement >= patience) state.stoppedEarly = true;
  return false;
}

/** An epoch's history line from the sums over its batches. */
export function epochRecord(epoch: number, sums: { lossSum: number; accSum: number; seen: number }, val: { loss: number; accuracy: number } | null, seconds: number, learningRate: number): EpochRecord {
  return {
    epoch,
    loss: sums.lossSum / sums.seen,
    accuracy: sums.accSum / sums.seen,
    val_loss: val ? val.loss : null,
    val_accuracy: val ? val.accuracy : null,
    seconds: Math.round(seconds * 1000) / 1000,
    learning_rate: learningRate,
  };
}

/** The log line of a finished epoch. */
export function epochLine(record: EpochRecord, epochs: number, state: LoopState): string {
  return (
    `epoch ${record.epoch}/${epochs}: loss ${record.loss.toFixed(4)} acc ${record.accuracy.toFixed(4)}` +
    (record.val_loss !== null && record.val_accuracy !== null ? ` val_loss ${record.val_loss.toFixed(4)} val_acc ${record.val_accuracy.toFixed(4)}` : '') +
    ` (${record.seconds.toFixed(1)} s)` +
    (state.stoppedEarly ? ` — early stop, no val_loss improvement for ${state.epochsWithoutImprovement} epochs` : '')
  );
}

export function freshState(): LoopState {
  return { epochsDone: 0, steps: 0, bestValLoss: null, bestEpoch: null, epochsWithoutImprovement: 0, stoppedEarly: false, seconds: 0 };
}

/**
 * Trains `model` (compiled here with `optimizer` and categorical cross-entropy). Resumes from
 * `<stateDir>/checkpoint` when an earlier run of the same instance was interrupted.
 */
export async function fit(options: FitOptions): Promise<FitResult> {
  const { model, optimizer, train, val, epochs, stateDir } = options;
  const log = options.log ?? (() => {});
  await mkdir(stateDir, { recursive: true });
  const checkpointDir = join(stateDir, 'checkpoint');
  const bestDir = join(stateDir, 'best');
  const historyPath = join(stateDir, HISTORY);

  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });

  let state = freshState();
  let resumedFromEpoch: number | null = null;
  if (hasCheckpoint(checkpointDir)) {
    state = await loadCheckpoint(checkpointDir, model, optimizer);
    resumedFromEpoch = state.epochsDone;
    await trimHistory(historyPath, state.epochsDone);
    log(`resuming after epoch ${state.epochsDone} from ${checkpointDir}`);
  } else {
    await writeFile(historyPath, '');
  }

  const stepsPerEpoch = Math.ceil(train.count / train.batchSize);
  const limit = options.maxStepsPerEpoch ?? Infinity;
  const patience = options.earlyStopping?.patience ?? Infinity;
  const minDelta = options.earlyStopping?.minDelta ?? 0;
  const setLearningRate = (lr: number) => {
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
  };
  const currentLearningRate = () => (optimizer as unknown as { learningRate: number }).learningRate;

  // tfjs draws dropout masks (and any other unseeded randomness) from Math.random, which cannot be
  // seeded: swap in a generator seeded per epoch, so that training is reproducible bit for bit and a
  // resumed run continues exactly as an uninterrupted one would.
  const unseededRandom = Math.random;
  try {
    while (state.epochsDone < epochs && !state.stoppedEarly) {
      const epoch = state.epochsDone + 1;
      Math.random = epochRandom(options.seed, epoch);
      const started = performance.now();
      let lossSum = 0;
      let accSum = 0;
      let seen = 0;
      let step = 0;
      for await (const batch of train.batches(epochSeed(options.seed, epoch - 1))) {
        if (options.signal?.aborted) {
          tf.dispose([batch.x, batch.y]);
          throw new Error('training cancelled');
        }
        if (step >= limit) {
          tf.dispose([batch.x, batch.y]);
          continue;
        }
        if (options.learningRate) setLearningRate(options.learningRate(state.steps));
        const y = options.targets ? shapeTargets(batch.y, options.targets) : batch.y;
        const out = (await model.trainOnBatch(batch.x, y)) as number[];
        lossSum += out[0]! * batch.size;
        accSum += (out[1] ?? 0) * batch.size;
        seen += batch.size;
        tf.dispose([batch.x, batch.y, y]);
        step += 1;
        state.steps += 1;
        options.progress?.((epoch - 1) * Math.min(stepsPerEpoch, limit) + step, epochs * Math.min(stepsPerEpoch, limit), `epoch ${epoch}/${epochs}`);
      }
      if (seen === 0) throw new Error('the training set is empty');
      if (options.recalibrateBatchNorm) {
        await recalibrateBatchNorm(model, train, { batches: options.recalibrateBatchNorm, seed: epochSeed(options.seed, epoch) + 1 });
      }
      const valMetrics = val && val.count > 0 ? await evaluateSource(model, val) : null;
      const seconds = (performance.now() - started) / 1000;
      const record = epochRecord(epoch, { lossSum, accSum, seen }, valMetrics, seconds, currentLearningRate());
      state.epochsDone = epoch;
      state.seconds += seconds;
      if (valMetrics && improvedOnValidation(state, epoch, valMetrics.loss, minDelta, patience)) await saveWeightsSnapshot(bestDir, model);
      // History first: after a kill between the two writes, resume drops the line of the lost epoch.
      await appendFile(historyPath, JSON.stringify(record) + '\n');
      await saveCheckpoint(checkpointDir, model, optimizer, state);
      log(epochLine(record, epochs, state));
    }

  } finally {
    Math.random = unseededRandom;
  }

  let weightsFromEpoch = state.epochsDone;
  if (state.bestEpoch !== null && state.bestEpoch !== state.epochsDone && (await loadWeightsSnapshot(bestDir, model))) {
    weightsFromEpoch = state.bestEpoch;
    log(`kept the weights of epoch ${state.bestEpoch} (lowest val_loss ${state.bestValLoss?.toFixed(4)})`);
  }
  return { history: await readHistory(historyPath), state, resumedFromEpoch, weightsFromEpoch };
}

/** Keras' time-based decay: lr / (1 + decay · step). */
export function timeBasedDecay(learningRate: number, decay: number): (step: number) => number {
  return (step) => learningRate / (1 + decay * step);
}
