// The study table's rows (one per architecture × mode), shared by the HTML page, REPORT.md and metrics.json.
import type { Interval } from '../metrics/evaluation-metrics.js';
import type { ModelResult, OriginalStudy } from './types.js';

export interface StudyRow {
  label: string;
  arch: string;
  mode: string;
  status: string;
  reason: string | null;
  accuracy: number | null;
  accuracyCi: Interval | null;
  accuracyWilson: Interval | null;
  macroF1: number | null;
  /** Mean per-class recall on the same-lab test split. */
  balancedAccuracy: number | null;
  testImages: number | null;
  /** Epochs run, counted over all phases. */
  epochs: number | null;
  bestEpoch: number | null;
  stoppedEarly: boolean | null;
  trainSeconds: number | null;
  /** Inference time per image measured by evaluate. */
  msPerImage: number | null;
  backend: string | null;
  /** Accuracy of each shifted-source set, keyed by source. */
  shifted: Record<string, { accuracy: number | null; accuracyCi: Interval | null; n: number; balancedAccuracy?: number | null; macroF1?: number | null }>;
  /** The original study's published accuracy for this architecture and mode; null when not published / not read. */
  originalAccuracy: number | null;
  /** Whether the original study had this architecture × mode at all. */
  inOriginalStudy: boolean;
  /** What the original figure beside this row is, where it is not simply the same architecture × mode. */
  originalNote: string | null;
}

const AT_CHANCE = 'at chance: their test generator was shuffled against fixed labels';

/**
 * The original study's figure for a row: the same architecture × mode where it had one; for a scratch
 * model it did not have (our small CNN), the mean of its eight scratch models, so a baseline stands
 * beside a baseline. Fine-tuning was not part of it.
 */
function originalFigure(m: ModelResult, original: OriginalStudy): { accuracy: number | null; inStudy: boolean; note: string | null } {
  const orig = original.results.find((r) => r.arch === m.arch && r.mode === m.mode);
  if (orig) return { accuracy: orig.accuracy, inStudy: true, note: m.mode === 'scratch' ? AT_CHANCE : null };
  if (m.mode === 'scratch' && original.summary.scratchMeanAccuracy !== null) {
    return { accuracy: original.summary.scratchMeanAccuracy, inStudy: false, note: `mean of its 8 scratch models, ${AT_CHANCE}` };
  }
  return { accuracy: null, inStudy: false, note: null };
}

export function studyRows(models: ModelResult[], original: OriginalStudy, primarySource: string): StudyRow[] {
  return models.map((m) => {
    const test = m.metrics?.status === 'evaluated' ? m.metrics.test : null;
    const orig = originalFigure(m, original);
    const status = m.metrics?.status === 'skipped' || m.train?.status === 'skipped' ? 'skipped' : m.metrics ? 'evaluated' : m.train ? 'trained, not evaluated' : 'missing';
    const shifted: StudyRow['shifted'] = {};
    for (const [source, sm] of Object.entries(m.metrics?.sources ?? {})) {
      if (source !== primarySource) shifted[source] = { accuracy: sm.accuracy, accuracyCi: sm.accuracyCi, n: sm.n, balancedAccuracy: sm.balancedAccuracy ?? null, macroF1: sm.macroF1 };
    }
    const b = m.train?.backend;
    const trained = status !== 'skipped';
    return {
      label: m.label,
      arch: m.arch,
      mode: m.mode,
      status,
      reason: tableReason(m.metrics?.reason ?? m.train?.reason ?? null),
      accuracy: test?.accuracy ?? null,
      accuracyCi: test?.accuracyCi ?? null,
      accuracyWilson: test?.accuracyWilson ?? null,
      macroF1: test?.macroF1 ?? null,
      balancedAccuracy: test?.balancedAccuracy ?? null,
      testImages: test?.n ?? null,
      // A model that ran no epoch itself (an ensemble: its members did) shows none.
      epochs: !trained ? null : m.history.length > 0 ? m.history.length : m.train?.epochsCompleted || null,
      stoppedEarly: m.train?.stoppedEarly ?? null,
      bestEpoch: m.train?.bestEpoch ?? null,
      trainSeconds: trained ? (m.train?.wallSeconds ?? null) : null,
      msPerImage: typeof m.metrics?.inference?.msPerImage === 'number' ? m.metrics.inference.msPerImage : null,
      backend: b ? `${b.name}${b.gpu ? ' (GPU)' : ''}` : null,
      shifted,
      originalAccuracy: orig.accuracy,
      inOriginalStudy: orig.inStudy,
      originalNote: orig.note,
    };
  });
}

/** Index of the evaluated row with the highest same-source accuracy, or -1. */
export function bestRow(rows: StudyRow[]): number {
  let best = -1;
  rows.forEach((r, i) => {
    if (r.accuracy !== null && (best < 0 || r.accuracy > (rows[best]!.accuracy ?? -1))) best = i;
  });
  return best;
}

/**
 * The reason as a table cell: the status already says "skipped", and the weights stage's full
 * instructions (file name, md5, URL) belong in its own log and record, not in every row.
 */
export function tableReason(reason: string | null): string | null {
  if (!reason) return null;
  return reason.replace(/^(skipped:\s*)+/, '').split(' — ')[0]!.trim() || null;
}
