// cross-lab.json: what the cross-lab stage publishes (leave-one-lab-out results and the labelling
// curve) and the report reads.
import type { SourceMetrics } from '../metrics/evaluation-metrics.js';
import type { SelfTrainingSettings } from '../classifier/self-training.js';
import type { AugmentSettings } from './augment-record.js';

export interface HeldOutResult {
  lab: string;
  trainedOn: string[];
  trainRows: number;
  /** As trained, and with AdaBN on the held-out lab's cells. */
  asTrained: SourceMetrics;
  adapted: SourceMetrics | null;
  /** After self-training on the held-out lab's unlabelled cells (adapt: self-training only). */
  selfTrained?: SourceMetrics | null;
  epochs: number;
}

export interface CurvePoint {
  lab: string;
  /** Labelled cells per class of this lab added to training. */
  k: number;
  /** Cells added (fewer where a class has fewer); their whole groups left the test set. */
  added: number;
  /**
   * Which figure the point gives: the adaptation at k = 0 (adapt: adabn or self-training); once the head has seen
   * the lab, as trained, or self-trained where curveSelfTraining asks for it.
   */
  figure?: 'as-trained' | 'adabn' | 'self-trained';
  testN: number;
  accuracy: number | null;
  balancedAccuracy: number | null;
  macroF1: number | null;
  accuracyCi: { low: number; high: number } | null;
  /** With AdaBN on the rest of the lab, where that is not the point's figure (for comparison). */
  adapted?: MeanFigures;
  /** As trained, where that is not the point's figure (for comparison). */
  asTrained?: MeanFigures;
}

export interface CrossLabRecord {
  status: 'evaluated' | 'skipped';
  reason?: string;
  arch: string;
  features: string;
  classes: string[];
  labs: string[];
  adapt: CrossLabAdaptation;
  /** The self-training's settings (adapt: self-training; stages/lib/classifier/self-training.ts). */
  selfTraining?: SelfTrainingSettings | null;
  /**
   * How the variants that self-training used as views were made (augment.json), present when
   * `selfTraining.views` > 0: pipe predict makes the same of a folder's cells.
   */
  views?: AugmentSettings;
  /** The curve's self-training at k > 0 also trained on the k labelled cells with their classes (cross-lab curveAnchors). */
  curveAnchors?: boolean;
  /** The heads read the cell's size relative to its lab after the features (cross-lab cellSize; cell-size.ts). */
  cellSize?: { copies: number; jitter: number };
  protocol: string;
  heldOut: HeldOutResult[];
  /** Mean over held-out labs (the figure settings are chosen on). */
  mean: { asTrained: MeanFigures; adapted: MeanFigures | null; selfTrained?: MeanFigures | null };
  curve: CurvePoint[];
}

/** The test-time adaptation a held-out figure is headlined with: none, AdaBN, or self-training. */
export type CrossLabAdaptation = 'none' | 'adabn' | 'self-training';

/** The mean figures a record's headline gives: with the adaptation the stage kept, else as trained. */
export function headlineMean(r: CrossLabRecord): MeanFigures {
  if (r.adapt === 'self-training' && r.mean.selfTrained) return r.mean.selfTrained;
  return r.adapt === 'adabn' && r.mean.adapted ? r.mean.adapted : r.mean.asTrained;
}

/** One held-out lab's headline figure, as headlineMean chooses. */
export function headlineHeldOut(r: CrossLabRecord, h: HeldOutResult): SourceMetrics {
  if (r.adapt === 'self-training' && h.selfTrained) return h.selfTrained;
  return r.adapt === 'adabn' && h.adapted ? h.adapted : h.asTrained;
}

export interface MeanFigures {
  accuracy: number | null;
  balancedAccuracy: number | null;
  macroF1: number | null;
}

export const CROSS_LAB_JSON = 'cross-lab.json';
/** Per-cell predictions of the k = 0 held-out models (predictions.csv format; source = the held-out lab). */
export const HELD_OUT_PREDICTIONS = { asTrained: 'held-out-predictions.csv', adapted: 'held-out-predictions-adabn.csv', selfTrained: 'held-out-predictions-self-trained.csv' } as const;

