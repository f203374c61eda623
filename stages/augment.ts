// augment (per item): N deterministic variants of each cell with the study's Keras
// ImageDataGenerator settings (rotation, shifts, shear, flips, fill white), optionally followed by
// photometric ops (stain/colour jitter, gamma, blur, grain noise, JPEG, scale) from lib/shift/photometric.ts. Before those, a
// share of variants can lose part of their cytoplasm (lib/shift/cytoplasm-loss.ts), as cells segmented on
// another lab's paler smears do.
// Same source bytes + params + seed → byte-identical variants, whatever order items run in.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { definePerItemStage, StageError, type InputFile } from '../pipeline/stage-api.js';
import { decodeRgb, encodePng } from './lib/image/decode.js';
import { cellKey, json, writeAllOrNothing } from './lib/io/item-files.js';
import { augmentParamsSchema, cellVariant, type AugmentParams } from './lib/shift/cell-variants.js';
import { variantFileName } from './lib/records/augment-variant-name.js';
import { AUGMENT_JSON, type AugmentRecord, type AugmentSettings, type VariantRecord } from './lib/records/augment-record.js';

// The variants' draws live in lib/shift/cell-variants.ts, which pipe predict shares; re-exported for the tests.
export { drawCytoplasmRim, drawVariant, type AugmentParams } from './lib/shift/cell-variants.js';

/** All variants of one source cell, as files to write (PNG bytes + the JSON record). */
export async function augmentOne(input: InputFile, params: AugmentParams): Promise<Record<string, Buffer | string>> {
  const { className, key } = cellKey(input.rel);
  const image = await decodeRgb(await readFile(input.path), { name: input.rel });
  const files: Record<string, Buffer | string> = {};
  const variants: VariantRecord[] = [];
  for (let k = 0; k < params.variants; k++) {
    const { image: out, transform, photometricSeed, cytoplasmRim } = await cellVariant(image, input.hash, k, params);
    const file = variantFileName(key, k);
    files[file] = await encodePng(out);
    variants.push({ file, k, transform, photometricSeed, cytoplasmRim });
  }
  const record: AugmentRecord = {
    source: input.rel,
    sourceStage: input.fromInstance ?? null,
    sourceSha256: input.hash,
    class: className,
    seed: params.seed,
    variants,
  };
  files[`variants/${key}.json`] = json(record);
  return files;
}

export default definePerItemStage<AugmentParams>({
  paramsSchema: augmentParamsSchema,
  async processItems(ctx, items) {
    let done = 0;
    for (const item of items) {
      if (ctx.signal.aborted) throw new StageError('cancelled', ctx.instanceId);
      // Inputs are our own segment/normalize PNGs; an unreadable one is a pipeline bug, so fail loudly.
      await writeAllOrNothing(item.outDir, await augmentOne(item.input, ctx.params));
      ctx.progress(++done, items.length, item.input.rel);
    }
  },
  async finalize(ctx) {
    const p = ctx.params;
    const used: AugmentSettings = { ...p, photometric: p.photometric ?? null, cytoplasmLoss: p.cytoplasmLoss ?? null };
    await writeFile(path.join(ctx.outDir, AUGMENT_JSON), json(used));
  },
});
