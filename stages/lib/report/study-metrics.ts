// The report's metrics.json: one machine-readable summary of the whole study (what CI dashboards
// and `pipe` diffs read), plus each model's full EvaluationMetrics.
import type { EvaluationMetrics } from '../metrics/evaluation-metrics.js';
import type { ReportData } from './types.js';
import type { LabSummary } from '../records/labs-manifest.js';
import type { CrossLabRecord } from '../records/cross-lab-record.js';
import { studyRows, type StudyRow } from './study-rows.js';

export interface StudyMetrics {
  schemaVersion: 1;
  kind: 'leukopipe-study';
  classes: string[];
  primarySource: string;
  shiftedSources: string[];
  rows: StudyRow[];
  original: { citation: string; results: { arch: string; mode: string; accuracy: number | null }[] };
  models: Record<string, EvaluationMetrics>;
  /** The labs and the leave-one-lab-out study (the headline cross-lab figures). */
  labs: LabSummary[];
  crossLab: CrossLabRecord[];
}

export function studyMetrics(data: ReportData): StudyMetrics {
  const models: Record<string, EvaluationMetrics> = {};
  for (const m of data.models) if (m.metrics) models[m.label] = m.metrics;
  return {
    schemaVersion: 1,
    kind: 'leukopipe-study',
    classes: data.classes,
    primarySource: data.primarySource,
    shiftedSources: data.shiftedSources,
    rows: studyRows(data.models, data.original, data.primarySource),
    original: { citation: data.original.citation, results: data.original.results.map(({ arch, mode, accuracy }) => ({ arch, mode, accuracy })) },
    models,
    labs: data.labs.labs,
    crossLab: data.labs.crossLab,
  };
}
