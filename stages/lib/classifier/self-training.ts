// Class-balanced self-training on one lab's unlabelled cells (after Zou et al., ECCV 2018, on frozen
// features): the head's most confident predictions on that lab become labels, and the head goes on training
// on those cells alone. Each round takes, for every predicted class, that class's most confident share of
// the cells, so a lab the head reads as mostly one class still gives every class its share; the share grows
// round by round (portion × round / rounds), and the next round's labels come from the head just trained.
// It needs no training-lab data, so `pipe predict` runs it on a folder exactly as the leave-one-lab-out
// study measured it (cross-lab, adapt: self-training).
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argMax } from './inference.js';
import { predictFeatureMatrix } from './feature-matrix.js';
import { fitHeadOnMatrix } from './fit-head.js';
import { createOptimizer } from './optimizer.js';

export interface SelfTrainingSettings {
  rounds: number;
  /** Share of each predicted class taken in the last round (0–1). */
  portion: number;
  /** Epochs of training on the chosen cells per round. */
  epochs: number;
  /** Adam's learning rate: a tenth of the head's own, so the head moves towards the lab without forgetting. */
  learningRate: number;
}

// 5 rounds to 80 % (3 to 60 % until 2026-12-07 08:30): higher on both backbones' mean over held-out labs, every seed (BENCHMARKS.md, Labs).
export const SELF_TRAINING_DEFAULTS: SelfTrainingSettings = { rounds: 5, portion: 0.8, epochs: 5, learningRate: 1e-4 };
const BATCH_SIZE = 32;

/** Indices of each predicted class's most confident `portion` of the rows (at least one per predicted class), ascending. */
export function confidentPerClass(probabilities: readonly (readonly number[])[], portion: number): number[] {
  const byClass = new Map<number, number[]>();
  probabilities.forEach((p, i) => {
    const c = argMax(p);
    (byClass.get(c) ?? byClass.set(c, []).get(c)!).push(i);
  });
  const chosen: number[] = [];
  for (const [c, rows] of byClass) {
    // Ties keep row order, so the choice does not depend on the sort's stability.
    rows.sort((a, b) => probabilities[b]![c]! - probabilities[a]![c]! || a - b);
    chosen.push(...rows.slice(0, Math.max(1, Math.ceil(rows.length * portion))));
  }
  return chosen.sort((a, b) => a - b);
}

/**
 * Runs the rounds from the first predictions: `train` gets the chosen rows and their pseudo-labels and
 * returns the trained head's probabilities for every row. Returns the last round's probabilities.
 */
export async function selfTrain(
  first: number[][],
  settings: Pick<SelfTrainingSettings, 'rounds' | 'portion'>,
  train: (rows: number[], labels: number[], round: number) => Promise<number[][]>,
): Promise<number[][]> {
  let probabilities = first;
  for (let round = 1; round <= settings.rounds; round++) {
    const rows = confidentPerClass(probabilities, (settings.portion * round) / settings.rounds);
    probabilities = await train(rows, rows.map((r) => argMax(probabilities[r]!)), round);
  }
  return probabilities;
}

/**
 * One round's training: `head` (input [dim]) trains in place on the rows `rows` of `x` with their pseudo-labels,
 * for the settings' epochs with Adam at their learning rate.
 */
export async function trainHeadOnRows(
  head: tf.LayersModel,
  x: Float32Array,
  dim: number,
  rows: readonly number[],
  labels: number[],
  options: { classes: number; settings: SelfTrainingSettings; seed: number; stateDir: string; signal?: AbortSignal },
): Promise<void> {
  const chosen = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => chosen.set(x.subarray(row * dim, (row + 1) * dim), i * dim));
  const { optimizer } = createOptimizer({ name: 'adam', learningRate: options.settings.learningRate }, 'self-training');
  await fitHeadOnMatrix({
    model: head,
    optimizer,
    classes: options.classes,
    dim,
    train: { x: chosen, labels },
    val: null,
    batchSize: BATCH_SIZE,
    epochs: options.settings.epochs,
    seed: options.seed,
    earlyStopping: null,
    stateDir: options.stateDir,
    signal: options.signal,
  });
  optimizer.dispose();
}

/**
 * Self-trains `head` (the study's head, input [dim]) in place on one lab's vectors `x` and returns its
 * class probabilities for them afterwards. `stateDir` holds the rounds' training state (a temporary folder
 * when null, removed afterwards).
 */
export async function selfTrainHead(
  head: tf.LayersModel,
  x: Float32Array,
  dim: number,
  options: { settings: SelfTrainingSettings; seed: number; stateDir: string | null; signal?: AbortSignal },
): Promise<number[][]> {
  const { settings, seed } = options;
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'leukopipe-self-training-'));
  try {
    const first = predictFeatureMatrix(head, x, dim);
    const classes = first[0]?.length ?? 0;
    if (classes === 0) return first;
    return await selfTrain(first, settings, async (rows, labels, round) => {
      await trainHeadOnRows(head, x, dim, rows, labels, { classes, settings, seed: seed + round, stateDir: join(stateDir, `self-training-${round}`), signal: options.signal });
      return predictFeatureMatrix(head, x, dim);
    });
  } finally {
    if (!options.stateDir) rmSync(stateDir, { recursive: true, force: true });
  }
}
