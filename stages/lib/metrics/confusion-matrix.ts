// Confusion matrix and the per-class scores derived from it.

/** Rows are the true class, columns the predicted class, both in the order of `classes`. */
export interface ConfusionMatrix {
  classes: string[];
  counts: number[][];
}

export interface ClassMetrics {
  class: string;
  /** tp / (tp + fp); null when the class was never predicted. */
  precision: number | null;
  /** tp / (tp + fn); null when the class has no true examples. */
  recall: number | null;
  /** 2tp / (2tp + fp + fn); null when the class neither occurs nor is predicted. */
  f1: number | null;
  /** Number of true examples of the class. */
  support: number;
  /** Number of examples predicted as the class. */
  predicted: number;
}

export interface LabelPair {
  trueClass: string;
  predictedClass: string;
}

/** Counts label pairs into a matrix; a label outside `classes` is an error naming it. */
export function confusionMatrix(pairs: readonly LabelPair[], classes: readonly string[]): ConfusionMatrix {
  const index = new Map(classes.map((c, i) => [c, i] as const));
  if (index.size !== classes.length) throw new Error(`confusionMatrix: duplicate class in [${classes.join(', ')}]`);
  const counts = classes.map(() => classes.map(() => 0));
  pairs.forEach((p, n) => {
    const t = index.get(p.trueClass);
    const q = index.get(p.predictedClass);
    if (t === undefined) throw new Error(`confusionMatrix: prediction ${n} has unknown true class "${p.trueClass}"`);
    if (q === undefined) throw new Error(`confusionMatrix: prediction ${n} has unknown predicted class "${p.predictedClass}"`);
    counts[t]![q]! += 1;
  });
  return { classes: [...classes], counts };
}

export function matrixTotal(m: ConfusionMatrix): number {
  return m.counts.reduce((s, row) => s + row.reduce((a, b) => a + b, 0), 0);
}

export function matrixCorrect(m: ConfusionMatrix): number {
  return m.counts.reduce((s, row, i) => s + (row[i] ?? 0), 0);
}

/** Accuracy, or null for an empty matrix. */
export function matrixAccuracy(m: ConfusionMatrix): number | null {
  const total = matrixTotal(m);
  return total === 0 ? null : matrixCorrect(m) / total;
}

export function perClassMetrics(m: ConfusionMatrix): ClassMetrics[] {
  return m.classes.map((name, i) => {
    const row = m.counts[i] ?? [];
    const tp = row[i] ?? 0;
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = m.counts.reduce((s, r) => s + (r[i] ?? 0), 0);
    const fp = predicted - tp;
    const fn = support - tp;
    return {
      class: name,
      precision: predicted === 0 ? null : tp / predicted,
      recall: support === 0 ? null : tp / support,
      f1: 2 * tp + fp + fn === 0 ? null : (2 * tp) / (2 * tp + fp + fn),
      support,
      predicted,
    };
  });
}

/**
 * Unweighted mean of F1 over the classes where it is defined (the class occurs or is predicted).
 * A shifted-source set that lacks a class thus is not penalised for it; null when nothing is defined.
 */
export function macroF1(perClass: readonly ClassMetrics[]): number | null {
  const defined = perClass.map((c) => c.f1).filter((f): f is number => f !== null);
  return defined.length === 0 ? null : defined.reduce((a, b) => a + b, 0) / defined.length;
}

/**
 * Balanced accuracy: the unweighted mean of per-class recall over the classes that occur. Labs differ
 * in class mix (BCCD is mostly neutrophils), so a model that calls everything the majority class scores
 * high accuracy and a balanced accuracy of 1/k. Null when no class occurs.
 */
export function balancedAccuracy(perClass: readonly ClassMetrics[]): number | null {
  const defined = perClass.map((c) => c.recall).filter((r): r is number => r !== null);
  return defined.length === 0 ? null : defined.reduce((a, b) => a + b, 0) / defined.length;
}
