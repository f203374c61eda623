// normalize: stain/colour normalisation of every segmented cell to a fixed reference, over cell pixels
// only (background stays pure white). Per item: `cells/<CLASS>/<stem>.png` in, the same path out.
// predict and evaluate call the same `normalizeCell` on foreign images, so every path matches.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { definePerItemStage, StageError, type StageContext } from '../pipeline/stage-api.js';
import { decodeRgb, encodePng, ImageDecodeError } from './lib/image/decode.js';
import {
  DEFAULT_WHITE_THRESHOLD,
  normalizeCell,
  normalizeParamsSchema,
  resolveReference,
  type NormalizeParams,
} from './lib/stain/normalize-cell.js';

export default definePerItemStage<NormalizeParams>({
  paramsSchema: normalizeParamsSchema,

  async processItems(ctx, items) {
    const params = checkedParams(ctx);
    let done = 0;
    for (const item of items) {
      if (ctx.signal.aborted) return;
      // Keep the producing stage's layout (cells/<CLASS>/<stem>.png) so downstream globs do not change.
      const rel = item.input.rel.split(path.sep).join('/');
      const target = rel.startsWith('cells/') ? rel : `cells/${rel}`;
      let image;
      try {
        image = await decodeRgb(await readFile(item.input.path), { name: rel });
      } catch (e) {
        if (e instanceof ImageDecodeError) throw new StageError(e.message, `normalize: ${rel}`);
        throw e;
      }
      const out = normalizeCell(image.data, image.width, image.height, params);
      const file = path.join(item.outDir, target);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, await encodePng({ width: image.width, height: image.height, data: out }));
      ctx.progress(++done, items.length, 'normalize');
    }
  },

  async finalize(ctx, items) {
    const params = checkedParams(ctx);
    // Exactly the NormalizeParams used (reference resolved), so predict and evaluate can apply the same
    // transform to raw foreign images from the model's lineage alone.
    const used: NormalizeParams = {
      method: params.method,
      reference: resolveReference(params.reference),
      whiteThreshold: params.whiteThreshold ?? DEFAULT_WHITE_THRESHOLD,
      ...(params.blurSigma ? { blurSigma: params.blurSigma } : {}),
      ...(params.maxGain !== undefined ? { maxGain: params.maxGain } : {}),
    };
    await writeFile(path.join(ctx.outDir, 'normalize.json'), JSON.stringify(used, null, 2) + '\n');
    const cells = items.reduce((n, it) => n + it.files.length, 0);
    ctx.log(`normalize: ${cells} cells, method ${params.method}${params.blurSigma ? `, blur σ ${params.blurSigma} px` : ''}`);
  },
});

function checkedParams(ctx: StageContext<NormalizeParams>): NormalizeParams {
  const p = ctx.params;
  if (!p || typeof p.method !== 'string') {
    throw new StageError('params.method is required (reinhard | macenko | grey-world | none)', 'normalize');
  }
  return p;
}
