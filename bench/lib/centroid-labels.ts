// Labels from the held-out lab's own clusters (after SHOT's self-supervised pseudo-labels, Liang et al.,
// ICML 2020): class centroids of the held-out cells weighted by the head's probabilities, each cell labelled
// by its nearest centroid (cosine), centroids again from those labels, repeated. A bench comparison
// (bench/cross-lab-methods.ts, CENTROID=space[:iterations]); `space` is the head's hidden layer (head_dense)
// or its standardised input.
import * as tf from '@tensorflow/tfjs';
import type { HeldOutAdaptation } from '../../stages/cross-lab.js';
import { predictFeatureMatrix } from '../../stages/lib/classifier/feature-matrix.js';
import { argMax } from '../../stages/lib/classifier/inference.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfTrain, trainHeadOnRows, type SelfTrainingSettings } from '../../stages/lib/classifier/self-training.js';

export type CentroidSpace = 'hidden' | 'input';

function embed(model: tf.LayersModel, x: Float32Array, dim: number, space: CentroidSpace): number[][] {
  return tf.tidy(() => {
    const layer = space === 'hidden' ? model.getLayer('head_dense') : model.getLayer('head_standardize');
    const sub = tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
    const h = sub.predict(tf.tensor2d(x, [x.length / dim, dim])) as tf.Tensor2D;
    return h.div(h.norm('euclidean', 1, true).add(1e-8)).arraySync() as number[][];
  });
}

/** Nearest-centroid labels; `weights[i][c]` weighs cell i into centroid c. */
export function centroidLabels(h: number[][], weights: number[][], classes: number): { labels: number[]; similarity: number[][] } {
  const d = h[0]?.length ?? 0;
  const centroids = Array.from({ length: classes }, () => new Float64Array(d));
  h.forEach((v, i) => {
    for (let c = 0; c < classes; c++) {
      const w = weights[i]![c]!;
      if (w) for (let j = 0; j < d; j++) centroids[c]![j]! += w * v[j]!;
    }
  });
  for (const c of centroids) {
    const n = Math.hypot(...c) || 1;
    for (let j = 0; j < d; j++) c[j]! /= n;
  }
  const similarity = h.map((v) => centroids.map((c) => v.reduce((s, x, j) => s + x * c[j]!, 0)));
  return { labels: similarity.map(argMax), similarity };
}

export function clusterLabels(h: number[][], first: number[][], iterations: number): { labels: number[]; similarity: number[][] } {
  const classes = first[0]?.length ?? 0;
  let result = centroidLabels(h, first, classes);
  for (let i = 1; i < iterations; i++) {
    const hard = result.labels.map((l) => Array.from({ length: classes }, (_, c) => (c === l ? 1 : 0)));
    result = centroidLabels(h, hard, classes);
  }
  return result;
}

/** The adapted figure becomes the cluster labels' (a softmax of the cosine similarities, temperature 0.1). */
export function centroidAdaptation(space: CentroidSpace, iterations: number): HeldOutAdaptation {
  return async ({ model, heldOut, dim }) => {
    const first = predictFeatureMatrix(model, heldOut, dim);
    return softmaxRows(clusterLabels(embed(model, heldOut, dim, space), first, iterations).similarity);
  };
}

/**
 * Self-training (the stage's rounds and settings) whose labels each round are the cluster labels of the head
 * just trained rather than its argmax; the figure is the clusters' (`final: 'centroid'`) or the head's.
 */
export function centroidSelfTraining(space: CentroidSpace, iterations: number, settings: SelfTrainingSettings, seed: number, final: 'centroid' | 'head'): HeldOutAdaptation {
  return async ({ model, heldOut, dim }) => {
    const clustered = () => softmaxRows(clusterLabels(embed(model, heldOut, dim, space), predictFeatureMatrix(model, heldOut, dim), iterations).similarity);
    const first = clustered();
    const classes = first[0]?.length ?? 0;
    const stateDir = mkdtempSync(join(tmpdir(), 'centroid-self-training-'));
    try {
      const last = await selfTrain(first, settings, async (rows, labels, round) => {
        await trainHeadOnRows(model, heldOut, dim, rows, labels, { classes, settings, seed: seed + round, stateDir: join(stateDir, `round-${round}`) });
        return clustered();
      });
      return final === 'centroid' ? last : predictFeatureMatrix(model, heldOut, dim);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  };
}

function softmaxRows(similarity: number[][]): number[][] {
  return similarity.map((s) => {
    const e = s.map((v) => Math.exp(v / 0.1));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / z);
  });
}
