// voc-crops (per item over Pascal VOC annotation files): cuts each annotated leukocyte out of its
// smear image by its box (plus a margin) into an ImageFolder `crops/<CLASS>/<image>__crop<k>.png`,
// which segment then reads like any other dataset (`--set segment.dataRoot=…/voc-crops/crops`).
// VOC sets such as BCCD label boxes "WBC" without a subtype, so the subtype comes from the user's CSV
// (`labels`: columns `image,class`, and optionally `object` = the box's index among the WBC boxes of
// that image, for smears holding several leukocytes of different types).
// Crops of one smear are named `<image>__crop<k>`, so split keeps them in the same split.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { definePerItemStage, StageError } from '../pipeline/stage-api.js';
import { writeAllOrNothing } from './lib/io/item-files.js';
import { cropOne, readLabels, type CropRecord, type VocCropsParams } from './lib/cell/voc-crop.js';

const paramsSchema = {
  type: 'object',
  required: ['vocRoot', 'labels'],
  properties: {
    vocRoot: { type: 'string' },
    labels: { type: 'string' },
    objectNames: { type: 'array', items: { type: 'string' } },
    margin: { type: 'number', minimum: 0, maximum: 2 },
    minBoxSide: { type: 'integer', minimum: 1 },
  },
};

export default definePerItemStage<VocCropsParams>({
  paramsSchema,
  async processItems(ctx, items) {
    const labelsPath = path.resolve(ctx.workspace, ctx.params.labels);
    if (!existsSync(labelsPath)) throw new StageError('labels CSV not found', ctx.params.labels);
    const labels = readLabels(readFileSync(labelsPath, 'utf8'), ctx.params.labels);
    let n = 0;
    for (const item of items) {
      const files = await cropOne(item.input, ctx.params, labels, ctx.workspace);
      const rec = JSON.parse(files[Object.keys(files).find((f) => f.startsWith('records/'))!] as string) as CropRecord;
      if (rec.error) ctx.warn(`${item.input.rel}: ${rec.error}`);
      for (const s of rec.skipped) ctx.warn(`${item.input.rel} object ${s.object}: ${s.reason}`);
      await writeAllOrNothing(item.outDir, files);
      ctx.progress(++n, items.length, item.input.rel);
    }
  },
});
