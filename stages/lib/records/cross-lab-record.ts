// cross-lab.json: what the cross-lab stage publishes (leave-one-lab-out results and the labelling
// curve) and the report reads.
import type { SourceMetrics } from '../metrics/evaluation-metrics.js';

export interface HeldOutResult {
  lab: string;
  trainedOn: string[];
  trainRows: number;
  /** As trained, and with AdaBN on the held-out lab's cells. */
  asTrained: SourceMetrics;
  adapted: SourceMetrics | null;
  epochs: number;
}

export interface CurvePoint {
  lab: string;
  /** Labelled cells per class of this lab added to training. */
  k: number;
  /** Cells added (fewer where a class has fewer); their whole groups left the test set. */
  added: number;
  /** Which figure the point gives: AdaBN only at k = 0 (with adapt: adabn); as trained once the head has seen the lab. */
  figure?: 'as-trained' | 'adabn';
  testN: number;
  accuracy: number | null;
  balancedAccuracy: number | null;
  macroF1: number | null;
  accuracyCi: { low: number; high: number } | null;
  /** With AdaBN on the rest of the lab, where that is not the point's figure (for comparison). */
  adapted?: MeanFigures;
}

export interface CrossLabRecord {
  status: 'evaluated' | 'skipped';
  reason?: string;
  arch: string;
  features: string;
  classes: string[];
  labs: string[];
  adapt: 'none' | 'adabn';
  protocol: string;
  heldOut: HeldOutResult[];
  /** Mean over held-out labs (the figure settings are chosen on). */
  mean: { asTrained: MeanFigures; adapted: MeanFigures | null };
  curve: CurvePoint[];
}

/** The mean figures a record's headline gives: with AdaBN where the stage kept it (`adapt: adabn`), else as trained. */
export function headlineMean(r: CrossLabRecord): MeanFigures {
  return r.adapt === 'adabn' && r.mean.adapted ? r.mean.adapted : r.mean.asTrained;
}

export interface MeanFigures {
  accuracy: number | null;
  balancedAccuracy: number | null;
  macroF1: number | null;
}

export const CROSS_LAB_JSON = 'cross-lab.json';
/** Per-cell predictions of the k = 0 held-out models (predictions.csv format; source = the held-out lab). */
export const HELD_OUT_PREDICTIONS = { asTrained: 'held-out-predictions.csv', adapted: 'held-out-predictions-adabn.csv' } as const;

