// Class-balanced self-training on one lab's unlabelled cells (after Zou et al., ECCV 2018, on frozen
// features): the head's most confident predictions on that lab become labels, and the head goes on training
// on those cells alone. Each round takes, for every predicted class, that class's most confident share of
// the cells, so a lab the head reads as mostly one class still gives every class its share; the share grows
// round by round (portion × round / rounds), and the next round's labels come from the head just trained.
// With views, every cell also comes as its augmented variants (the training data's augmentation): a cell's
// label is the mean prediction over it and its variants, the head trains on all of them, and the final
// probabilities are that mean too, so a label must hold across the variations the head should ignore.
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
  /**
   * Augmented variants per cell that join it (at most what the features or the augment settings give; 0:
   * the cells alone). Absent in records written before 2026-12-07, which self-trained on the cells alone.
   */
  views?: number;
}

// 5 rounds to 80 % (3 to 60 % until 2026-12-07 08:30): higher on both backbones' mean over held-out labs, every
// seed; 4 views (none until 2026-12-07 10:30): higher on MobileNet's, every seed (BENCHMARKS.md, Labs).
export const SELF_TRAINING_DEFAULTS: Required<SelfTrainingSettings> = { rounds: 5, portion: 0.8, epochs: 5, learningRate: 1e-4, views: 4 };
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
 * class probabilities for them afterwards. `views` are the vectors of the cells' augmented variants, one
 * matrix per variant in the rows' order of `x` (none: the cells alone). `stateDir` holds the rounds'
 * training state (a temporary folder when null, removed afterwards). `anchors` are labelled vectors of the same
 * lab (with their views' vectors, if any, as more rows) that every round trains on with their true labels; they
 * are not scored.
 */
export async function selfTrainHead(
  head: tf.LayersModel,
  x: Float32Array,
  dim: number,
  options: { settings: SelfTrainingSettings; seed: number; stateDir: string | null; signal?: AbortSignal; views?: readonly Float32Array[]; anchors?: { x: Float32Array; labels: number[] } },
): Promise<number[][]> {
  const { settings, seed } = options;
  const views = options.views ?? [];
  const cells = x.length / dim;
  for (const [j, v] of views.entries()) {
    if (v.length !== x.length) throw new Error(`self-training: view ${j} has ${v.length / dim} vectors for ${cells} cells`);
  }
  // Row j·cells + i is cell i in view j (view 0: the cell itself).
  const copies = views.length + 1;
  const all = copies === 1 ? x : new Float32Array(x.length * copies);
  if (copies > 1) [x, ...views].forEach((v, j) => all.set(v, j * x.length));
  const probabilities = (): number[][] => {
    const p = predictFeatureMatrix(head, all, dim);
    if (copies === 1) return p;
    return Array.from({ length: cells }, (_, i) => p[i]!.map((_, c) => {
      let sum = 0;
      for (let j = 0; j < copies; j++) sum += p[j * cells + i]![c]!;
      return sum / copies;
    }));
  };
  // Anchors: labelled rows of the lab (its own cells with their classes) that join every round beside the
  // pseudo-labelled ones, so the head is pulled towards what the lab's labels say, not only its own guesses.
  const anchors = options.anchors && options.anchors.labels.length ? options.anchors : null;
  if (anchors && anchors.x.length !== anchors.labels.length * dim) {
    throw new Error(`self-training: ${anchors.x.length / dim} anchor vectors for ${anchors.labels.length} labels`);
  }
  const withAnchors = anchors ? new Float32Array(all.length + anchors.x.length) : all;
  if (anchors) {
    withAnchors.set(all);
    withAnchors.set(anchors.x, all.length);
  }
  const anchorRows = anchors ? anchors.labels.map((_, i) => all.length / dim + i) : [];
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'leukopipe-self-training-'));
  try {
    const first = probabilities();
    const classes = first[0]?.length ?? 0;
    if (classes === 0) return first;
    return await selfTrain(first, settings, async (rows, labels, round) => {
      const every = (row: number) => Array.from({ length: copies }, (_, j) => j * cells + row);
      await trainHeadOnRows(head, withAnchors, dim, [...rows.flatMap(every), ...anchorRows], [...labels.flatMap((l) => Array<number>(copies).fill(l)), ...(anchors?.labels ?? [])], {
        classes,
        settings,
        seed: seed + round,
        stateDir: join(stateDir, `self-training-${round}`),
        signal: options.signal,
      });
      return probabilities();
    });
  } finally {
    if (!options.stateDir) rmSync(stateDir, { recursive: true, force: true });
  }
}
