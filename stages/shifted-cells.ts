// shifted-cells (per item): each raw image of the shifted sets through predict's path up to the model's
// input — the canonical cell with segment's options, then normalize's stain normalisation — once. Every
// evaluate whose model was trained with those settings then only resizes and classifies; each used to
// repeat this work, most of a MobileNet evaluation's time. Cached per image like segment.
//
// Output: cells/<set>/<file>.png and records/<set>/<file>.json per image, prepared-cells.json for all.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { definePerItemStage, StageError, type StageContext } from '../pipeline/stage-api.js';
import { encodePng } from './lib/image/decode.js';
import { json, writeAllOrNothing } from './lib/io/item-files.js';
import { rawImageToCell } from './lib/classifier/raw-image-input.js';
import { recordedNormalization, segmentCellOptions } from './lib/classifier/prediction-settings.js';
import type { CellOptions } from './lib/classifier/train-record.js';
import type { NormalizeParams } from './lib/stain/normalize-cell.js';
import {
  PREPARED_CELLS_JSON,
  PREPARED_CELLS_LAYOUT,
  preparedCellPaths,
  type PreparedCellEntry,
  type PreparedCellsRecord,
} from './lib/records/prepared-cells-record.js';

export type ShiftedCellsParams = Record<string, never>;

/** The settings train records for predict: segment's cell options and normalize's normalisation. */
function settings(ctx: StageContext<ShiftedCellsParams>): { cell: CellOptions; normalization: NormalizeParams | null } {
  const segment = ctx.dep('segment');
  const cell = segmentCellOptions(segment.dir, 0.1);
  if (!cell) throw new StageError('summary.json gives no canonical-cell options (params.size)', path.join(segment.dir, 'summary.json'));
  const normalize = ctx.declaredDeps.normalize ? ctx.optionalDep('normalize') : null;
  return { cell, normalization: normalize ? recordedNormalization(normalize.dir) : null };
}

export default definePerItemStage<ShiftedCellsParams>({
  paramsSchema: { type: 'object', additionalProperties: false },

  async processItems(ctx, items) {
    const options = settings(ctx);
    let done = 0;
    for (const item of items) {
      if (ctx.signal.aborted) throw new StageError('cancelled', ctx.instanceId);
      const set = item.input.fromInstance;
      if (!set) throw new StageError('shifted-cells reads the images of a dep (inputs: {"from": ...})', item.input.rel);
      let prepared;
      try {
        prepared = await rawImageToCell(item.input.path, options);
      } catch (e) {
        throw new StageError((e as Error).message, `${set}/${item.input.rel}`);
      }
      const paths = preparedCellPaths(set, item.input.rel);
      const entry: PreparedCellEntry = { set, file: item.input.rel, cell: paths.cell, status: prepared.cellStatus, reason: prepared.cellReason, scale: prepared.scale };
      await writeAllOrNothing(item.outDir, { [paths.cell]: await encodePng(prepared.cell), [paths.record]: json(entry) });
      ctx.progress(++done, items.length, 'shifted-cells');
    }
  },

  async finalize(ctx, items) {
    const entries: PreparedCellEntry[] = [];
    for (const item of items) {
      for (const f of item.files) {
        if (f.startsWith('records/') && f.endsWith('.json')) entries.push(JSON.parse(await readFile(path.join(ctx.outDir, f), 'utf8')));
      }
    }
    entries.sort((a, b) => (`${a.set}/${a.file}` < `${b.set}/${b.file}` ? -1 : 1));
    const record: PreparedCellsRecord = { ...settings(ctx), layout: PREPARED_CELLS_LAYOUT, items: entries };
    await writeFile(path.join(ctx.outDir, PREPARED_CELLS_JSON), json(record));
    const fallbacks = entries.filter((e) => e.status !== 'ok').length;
    ctx.log(`shifted-cells: ${entries.length} images prepared` + (fallbacks ? `, ${fallbacks} without a cell found (centre used)` : ''));
  },
});
