// The images evaluate scores a model on, for benches that re-score trained models outside the pipeline:
// the PBC test split (cells already canonical and normalised) and every shifted and foreign set (raw
// images, which take predict's path: canonical cell → normalisation → input size).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rawImageToInput } from '../stages/lib/classifier/raw-image-input.js';
import { readImageRgb } from '../stages/lib/classifier/read-image.js';
import { parseCsvRows } from '../stages/lib/io/csv.js';
import type { TrainRecord } from '../stages/lib/classifier/train-record.js';

export interface EvaluationItem {
  path: string;
  source: string;
  truth: string;
  /** True for a raw image that needs the cell representation; false for a canonical cell of the split. */
  raw: boolean;
}

export function evaluationItems(stagesDir: string): EvaluationItem[] {
  const items: EvaluationItem[] = [];
  const [header, ...rows] = parseCsvRows(readFileSync(join(stagesDir, 'split', 'test.csv'), 'utf8'));
  const column = (name: string) => header!.indexOf(name);
  for (const r of rows) {
    const file = r[column('file')]!;
    const slash = file.indexOf('/'); // "<stage>/<path in its outputs>"
    items.push({ path: join(stagesDir, file.slice(0, slash), file.slice(slash + 1)), source: 'pbc (test split)', truth: r[column('class')]!, raw: false });
  }
  for (const stage of ['shifted', 'foreign']) {
    for (const it of JSON.parse(readFileSync(join(stagesDir, stage, 'sets.json'), 'utf8')).items as { file: string; source: string; class: string }[]) {
      items.push({ path: join(stagesDir, stage, it.file), source: it.source, truth: it.class, raw: true });
    }
  }
  return items;
}

/** Each item as `size`×`size` RGB, prepared the way the model of `record` reads images. */
export async function modelInputs(items: readonly EvaluationItem[], record: TrainRecord, size = record.inputSize): Promise<Uint8Array[]> {
  const cell = record.cell;
  if (!cell) throw new Error(`${record.instanceId}: the model reads images without the cell representation; these benches need one that uses it`);
  const inputs: Uint8Array[] = [];
  for (const it of items) {
    inputs.push(it.raw ? (await rawImageToInput(it.path, { cell, normalization: record.normalization, size })).rgb : await readImageRgb(it.path, size));
  }
  return inputs;
}
