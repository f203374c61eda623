// predictions.csv: one row per classified image, written by evaluate and read by the report.
// Columns: path,source,true,predicted,p_<CLASS>... (probabilities in class order, may be empty).
import { csvField, parseCsvRows } from '../io/csv.js';
import type { Prediction } from './prediction.js';

export function predictionsToCsv(predictions: readonly Prediction[], classes: readonly string[]): string {
  const header = ['path', 'source', 'true', 'predicted', ...classes.map((c) => `p_${c}`)].join(',');
  const rows = predictions.map((p) =>
    [p.path, p.source, p.trueClass, p.predictedClass, ...classes.map((_, i) => p.probabilities?.[i]?.toString() ?? '')]
      .map(csvField)
      .join(','),
  );
  return [header, ...rows].join('\n') + '\n';
}

/** Reads predictions.csv text; `file` names the file in errors. Returns the classes from the header too. */
export function parsePredictionsCsv(text: string, file = 'predictions.csv'): { classes: string[]; predictions: Prediction[] } {
  const [header, ...rows] = parseCsvRows(text, file);
  if (!header || header.slice(0, 4).join(',') !== 'path,source,true,predicted') {
    throw new Error(`${file}: header must start with path,source,true,predicted`);
  }
  const classes = header.slice(4).map((h) => h.replace(/^p_/, ''));
  const predictions = rows
    .filter((r) => r.length > 1 || (r[0] ?? '') !== '')
    .map((r, n): Prediction => {
      if (r.length !== header.length) throw new Error(`${file}: row ${n + 2} has ${r.length} fields, header has ${header.length}`);
      const probs = r.slice(4);
      const p: Prediction = { path: r[0]!, source: r[1]!, trueClass: r[2]!, predictedClass: r[3]! };
      if (probs.length > 0 && probs.every((v) => v !== '')) {
        p.probabilities = probs.map((v) => {
          const x = Number(v);
          if (!Number.isFinite(x)) throw new Error(`${file}: row ${n + 2} has a non-numeric probability "${v}"`);
          return x;
        });
      }
      return p;
    });
  return { classes, predictions };
}
