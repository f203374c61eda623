// Evaluation metrics of one trained model: what each `evaluate` instance writes as metrics.json, and
// the pure functions that compute it from per-image predictions. The report reads only this shape.
import {
  balancedAccuracy,
  confusionMatrix,
  macroF1,
  matrixAccuracy,
  matrixCorrect,
  perClassMetrics,
  type ClassMetrics,
  type ConfusionMatrix,
} from './confusion-matrix.js';
import { bootstrapAccuracy, bootstrapInterval, wilsonInterval, type Interval } from './intervals.js';
import type { Prediction } from './prediction.js';

export * from './confusion-matrix.js';
export * from './intervals.js';
export * from './predictions-csv.js';
export type { Prediction } from './prediction.js';

export const METRICS_SCHEMA_VERSION = 1;

/** Everything measured on the predictions of one source. */
export interface SourceMetrics {
  source: string;
  n: number;
  correct: number;
  accuracy: number | null;
  /** Seeded percentile bootstrap over images. */
  accuracyCi: Interval | null;
  /** Wilson score interval (closed form; a cross-check of the bootstrap). */
  accuracyWilson: Interval | null;
  macroF1: number | null;
  macroF1Ci: Interval | null;
  /** Mean recall over the classes that occur (labs differ in class mix). */
  balancedAccuracy: number | null;
  /** Mean −ln p(true class), probabilities clipped at 1e-15; null without probabilities. */
  logLoss: number | null;
  perClass: ClassMetrics[];
  confusion: ConfusionMatrix;
}

export interface EvaluationMetrics {
  schemaVersion: typeof METRICS_SCHEMA_VERSION;
  /** e.g. `evaluate[arch=densenet121,mode=transfer]` */
  instanceId: string;
  arch: string;
  mode: string;
  /** "evaluated", or "skipped" when the model was not trained (then `test` is null and `sources` empty). */
  status: 'evaluated' | 'skipped';
  reason?: string;
  classes: string[];
  /** Name of the same-source held-out test split (every lab's test cells pooled); every other source is a lab's own test split or a shifted one. */
  primarySource: string;
  /** Sources that are one lab's own test split (the rest are simulated shifts or other test sets). */
  labs?: string[];
  bootstrap: { resamples: number; seed: number; level: number };
  /** Headline metrics: the same-source test split. */
  test: SourceMetrics | null;
  /** Every source (primary included), keyed by source name, in first-seen order. */
  sources: Record<string, SourceMetrics>;
  /** Added by evaluate: what was evaluated. */
  model?: { arch: string; mode: string; inputSize?: number; preprocessing?: string; weights?: string | null; [key: string]: unknown };
  /** Added by evaluate: how fast inference ran, and where. */
  inference?: { msPerImage: number; batchSize?: number; backend?: string; device?: string; images?: number; [key: string]: unknown };
}

/**
 * One entry of misclassified.json (a JSON array, most confident mistakes first). The image itself
 * stays where it is: `stage` names the dep whose output dir holds it (e.g. "normalize" for the
 * same-source test split, "shifted" for shifted sets) and `rel` is its path inside that dir. The
 * report embeds thumbnails from there; no absolute paths, so the file hashes the same on every machine.
 */
export interface MisclassifiedImage {
  /** Same id as in predictions.csv. */
  path: string;
  stage: string;
  rel: string;
  source: string;
  trueClass: string;
  predictedClass: string;
  /** Softmax output in class order (empty when the model gives none). */
  probabilities: number[];
}

export interface MetricsOptions {
  classes: readonly string[];
  /** Bootstrap resamples (e.g. 1000) and seed; the same seed gives the same interval. */
  resamples: number;
  seed: number;
  /** Interval coverage; 0.95 by default. */
  level?: number;
}

/** Metrics of a set of predictions that all belong to one source. */
export function sourceMetrics(source: string, predictions: readonly Prediction[], options: MetricsOptions): SourceMetrics {
  const { classes, resamples, seed, level = 0.95 } = options;
  const confusion = confusionMatrix(predictions, classes);
  const perClass = perClassMetrics(confusion);
  const correctFlags = predictions.map((p) => p.trueClass === p.predictedClass);
  const correct = matrixCorrect(confusion);
  const classIndex = new Map(classes.map((c, i) => [c, i] as const));
  const truth = Int32Array.from(predictions, (p) => classIndex.get(p.trueClass)!);
  const guess = Int32Array.from(predictions, (p) => classIndex.get(p.predictedClass)!);
  return {
    source,
    n: predictions.length,
    correct,
    accuracy: matrixAccuracy(confusion),
    accuracyCi: bootstrapAccuracy(correctFlags, { resamples, seed, level }),
    accuracyWilson: wilsonInterval(correct, predictions.length, level),
    macroF1: macroF1(perClass),
    macroF1Ci: bootstrapInterval(
      predictions.length,
      (idx) => macroF1OfIndices(truth, guess, idx, classes.length),
      { resamples, seed, level },
    ),
    balancedAccuracy: balancedAccuracy(perClass),
    logLoss: logLoss(predictions, classes),
    perClass,
    confusion,
  };
}

/**
 * Groups predictions by `source` and measures each; `test` is the primary (same-source) split.
 * Throws, naming the image, on an unknown class or a probability vector of the wrong length.
 */
export function computeEvaluationMetrics(
  predictions: readonly Prediction[],
  options: MetricsOptions & { instanceId: string; arch: string; mode: string; primarySource: string; labs?: string[] },
): EvaluationMetrics {
  const { classes, primarySource, resamples, seed, level = 0.95 } = options;
  for (const p of predictions) {
    if (p.probabilities && p.probabilities.length !== classes.length) {
      throw new Error(`${p.path}: ${p.probabilities.length} probabilities for ${classes.length} classes`);
    }
  }
  const bySource = new Map<string, Prediction[]>();
  for (const p of predictions) {
    const list = bySource.get(p.source) ?? [];
    list.push(p);
    bySource.set(p.source, list);
  }
  const sources: Record<string, SourceMetrics> = {};
  // Several labs: the primary (same-lab) split is all their test cells pooled, and each lab is a source too.
  const labs = options.labs ?? [];
  if (labs.length > 1 || (labs.length === 1 && labs[0] !== primarySource)) {
    sources[primarySource] = sourceMetrics(primarySource, predictions.filter((p) => labs.includes(p.source)), options);
  }
  for (const [source, list] of bySource) sources[source] = sourceMetrics(source, list, options);
  return {
    schemaVersion: METRICS_SCHEMA_VERSION,
    instanceId: options.instanceId,
    arch: options.arch,
    mode: options.mode,
    status: 'evaluated',
    classes: [...classes],
    primarySource,
    ...(options.labs ? { labs: [...options.labs] } : {}),
    bootstrap: { resamples, seed, level },
    test: sources[primarySource] ?? sourceMetrics(primarySource, [], options),
    sources,
  };
}

/** The metrics.json of a model that was not trained (e.g. an architecture skipped on this backend). */
export function skippedEvaluationMetrics(
  options: Omit<MetricsOptions, 'level'> & { level?: number; instanceId: string; arch: string; mode: string; primarySource: string; reason: string },
): EvaluationMetrics {
  return {
    schemaVersion: METRICS_SCHEMA_VERSION,
    instanceId: options.instanceId,
    arch: options.arch,
    mode: options.mode,
    status: 'skipped',
    reason: options.reason,
    classes: [...options.classes],
    primarySource: options.primarySource,
    bootstrap: { resamples: options.resamples, seed: options.seed, level: options.level ?? 0.95 },
    test: null,
    sources: {},
  };
}

function logLoss(predictions: readonly Prediction[], classes: readonly string[]): number | null {
  if (predictions.length === 0 || predictions.some((p) => !p.probabilities)) return null;
  let sum = 0;
  for (const p of predictions) {
    const prob = p.probabilities![classes.indexOf(p.trueClass)] ?? 0;
    sum -= Math.log(Math.min(1, Math.max(1e-15, prob)));
  }
  return sum / predictions.length;
}

// Macro-F1 of a resample without building objects: the bootstrap calls this `resamples` times.
function macroF1OfIndices(truth: Int32Array, guess: Int32Array, idx: Uint32Array, k: number): number {
  const tp = new Float64Array(k);
  const fp = new Float64Array(k);
  const fn = new Float64Array(k);
  for (let i = 0; i < idx.length; i++) {
    const t = truth[idx[i]!]!;
    const g = guess[idx[i]!]!;
    if (t === g) tp[t]! += 1;
    else {
      fp[g]! += 1;
      fn[t]! += 1;
    }
  }
  let sum = 0;
  let defined = 0;
  for (let c = 0; c < k; c++) {
    const denom = 2 * tp[c]! + fp[c]! + fn[c]!;
    if (denom > 0) {
      sum += (2 * tp[c]!) / denom;
      defined++;
    }
  }
  return defined === 0 ? 0 : sum / defined;
}
