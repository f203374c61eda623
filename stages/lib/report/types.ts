// Everything the report shows, gathered from the stage's deps before any rendering happens.
import type { CrossLabRecord } from '../records/cross-lab-record.js';
import type { LabSummary } from '../records/labs-manifest.js';
import type { EvaluationMetrics, MisclassifiedImage } from '../metrics/evaluation-metrics.js';
import type { AugmentSettings } from '../records/augment-record.js';

/** The labs section's inputs: each lab's summary and the cross-lab records. */
export interface LabsData {
  labs: LabSummary[];
  crossLab: CrossLabRecord[];
  /** augment.json: what the training variants were made with, when the report had it. */
  augmentation?: AugmentSettings | null;
}

/**
 * What the report takes from a train instance's train.json (stages/lib/classifier/train-record.ts),
 * read defensively so that an older or skipped record still renders.
 */
export interface TrainSummary {
  status: string | null;
  reason: string | null;
  epochsPlanned: number | null;
  epochsCompleted: number | null;
  /** Epoch whose weights were kept, counted across all phases (as in the curves). */
  bestEpoch: number | null;
  stoppedEarly: boolean | null;
  wallSeconds: number | null;
  trainingSeconds: number | null;
  backend: { name: string; package: string | null; device: string | null; gpu: boolean } | null;
  trainImages: number | null;
  /** How the model's cells were coloured and low-passed (normalize.json as train recorded it), when recorded. */
  normalization?: { method: string; blurSigma: number | null } | null;
}

export interface HistoryEntry {
  /** Epoch counted across phases (a finetune run's second phase continues the count). */
  epoch: number;
  phase: string | null;
  loss?: number;
  accuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  seconds?: number;
}

/** A misclassified image with its thumbnail already embedded. */
export interface GalleryImage extends MisclassifiedImage {
  model: string;
  /** data: URI, or null when the image could not be found in the dep named by `stage`. */
  thumbnail: string | null;
}

export interface ModelResult {
  /** "arch · mode", the label used in tables and charts. */
  label: string;
  arch: string;
  mode: string;
  evaluateInstance: string | null;
  trainInstance: string | null;
  metrics: EvaluationMetrics | null;
  train: TrainSummary | null;
  history: HistoryEntry[];
  misclassified: GalleryImage[];
  /** Total misclassified images listed by evaluate (the gallery shows only the first few). */
  misclassifiedTotal: number;
}

export interface SplitCounts {
  /** split name → class → count */
  counts: Record<string, Record<string, number>>;
  /** split name → distinct groups (original cells) */
  groups: Record<string, number>;
  files: Record<string, number>;
}

export interface ContactSheet {
  className: string;
  dataUri: string;
}

export interface DagNode {
  id: string;
  label: string;
  deps: string[];
  /** Instances of the stage (matrix) this node stands for. */
  instances: number;
  status: string | null;
  seconds: number | null;
}

export interface Dag {
  nodes: DagNode[];
  /** Where the times and statuses came from, said in the report. */
  provenance: string;
}

export interface OriginalStudyRow {
  arch: string;
  kerasName: string;
  mode: string;
  accuracy: number | null;
  /** Recall per class as the thesis tables give it (fractions). */
  perClass?: Record<string, number>;
}

export interface OriginalStudy {
  title: string;
  year: number;
  citation: string;
  sources: string[];
  setup: Record<string, unknown>;
  summary: { transferMeanAccuracy: number | null; scratchMeanAccuracy: number | null; transferTrainingSpeedup: number | null; note: string };
  results: OriginalStudyRow[];
  /** What the published text did not give, where something is missing. */
  notAvailable: string | null;
  caveats: string[];
}

export interface Environment {
  node: string;
  platform: string;
  cpu: string;
  cpus: number;
  memoryGiB: number;
  /** Backends seen in train records, e.g. "wasm (@tensorflow/tfjs-backend-wasm)". */
  backends: string[];
  packages: Record<string, string>;
}

export interface ReportData {
  title: string;
  classes: string[];
  primarySource: string;
  shiftedSources: string[];
  models: ModelResult[];
  split: SplitCounts | null;
  audit: { markdown: string | null; json: Record<string, unknown> | null };
  segment: { summary: Record<string, unknown> | null; contactSheets: ContactSheet[] };
  shifted: Record<string, unknown> | null;
  /** Contact sheets of the shifted sets (one per source). */
  shiftedSheets: ContactSheet[];
  dag: Dag;
  original: OriginalStudy;
  environment: Environment;
  /** The labs (labs.json) and the leave-one-lab-out study (one record per architecture). */
  labs: LabsData;
  /** Things the report could not show, each said once in the page. */
  notes: string[];
}
