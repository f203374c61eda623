// shifted: held-out test sets that look as if another lab had produced them (other stain, scale,
// optics/compression, or the cell already cut out onto white), built ONLY from the originals of the
// split's test rows, so a model never saw any of these cells. evaluate runs the full predict path
// (canonical cell → normalisation → model) on each set and reports accuracy per source.
// Output: sets/<source>/<CLASS>/<stem>.png (lossless, so the simulated JPEG artefacts survive),
// sets.json (how each set was made and what was drawn per image), contact-sheet-<source>.jpg.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import { defineStage, StageError } from '../pipeline/stage-api.js';
import { resolveStageFile } from './lib/classifier/split-table.js';
import { readSplitCsv, splitCsvPath } from './lib/records/split-csv.js';
import { decodeRgb, encodePng, ImageDecodeError } from './lib/image/decode.js';
import { fnv1aSeed } from './lib/random.js';
import {
  FOREIGN_SOURCE_DESCRIPTIONS,
  FOREIGN_SOURCES,
  makeForeignImage,
  type ForeignSource,
} from './lib/shift/simulated-source.js';

export interface ShiftedParams {
  seed: number;
  /** Which simulated sources to build (default: all). */
  sources?: ForeignSource[];
  /** Tiles per class in each set's contact sheet (0 = no sheets). */
  contactSheetPerClass?: number;
}

export interface ShiftedItem {
  source: ForeignSource;
  /** Path relative to this stage's output dir. */
  file: string;
  class: string;
  /** The original it was made from: `<stage>/<path>` in a dep's outputs (labs), else workspace-relative. */
  origin: string;
  width: number;
  height: number;
  draw: Record<string, number | number[]>;
}

const paramsSchema = {
  type: 'object',
  properties: {
    seed: { type: 'integer' },
    sources: { type: 'array', items: { enum: [...FOREIGN_SOURCES] }, uniqueItems: true, minItems: 1 },
    contactSheetPerClass: { type: 'integer', minimum: 0, maximum: 50 },
  },
  required: ['seed'],
};

export default defineStage<ShiftedParams>({
  paramsSchema,
  async run(ctx) {
    const sources = ctx.params.sources ?? [...FOREIGN_SOURCES];
    const testCsv = splitCsvPath(ctx.dep('split').dir, 'test');
    const rows = readSplitCsv(testCsv);
    // One entry per original: with augmented eval splits several test rows share an origin.
    const originals = new Map<string, { cls: string; row: number }>();
    rows.forEach((r, i) => {
      if (!r.origin) throw new StageError(`row ${i + 2} has no origin (the original image path is needed)`, `shifted: ${testCsv}`);
      if (!originals.has(r.origin)) originals.set(r.origin, { cls: r.class, row: i + 2 });
    });
    const items: ShiftedItem[] = [];
    const skipped: { source: ForeignSource; origin: string; reason: string }[] = [];
    const total = originals.size * sources.length;
    let done = 0;
    const usedNames = new Set<string>();
    for (const [origin, { cls, row }] of [...originals].sort((a, b) => a[0].localeCompare(b[0]))) {
      if (ctx.signal.aborted) return;
      const stage = origin.slice(0, origin.indexOf('/'));
      const fromDep = Object.values(ctx.deps).some((d) => d.stageId === stage);
      const abs = fromDep ? resolveStageFile(origin, ctx.deps, `shifted: ${testCsv}`) : path.resolve(ctx.workspace, origin);
      let image;
      try {
        image = await decodeRgb(await readFile(abs), { name: origin });
      } catch (e) {
        const why = e instanceof ImageDecodeError ? e.message : `${origin}: cannot read (${(e as Error).message})`;
        throw new StageError(why, `shifted: ${testCsv} row ${row}`);
      }
      const stem = uniqueStem(cls, path.basename(origin, path.extname(origin)), usedNames);
      for (const source of sources) {
        const result = await makeForeignImage(source, image, fnv1aSeed(`${source}/${origin}`, ctx.params.seed));
        ctx.progress(++done, total, source);
        if (!result) {
          skipped.push({ source, origin, reason: 'no cell found to cut out' });
          continue;
        }
        const file = `sets/${source}/${cls}/${stem}.png`;
        await mkdir(path.join(ctx.outDir, path.dirname(file)), { recursive: true });
        await writeFile(path.join(ctx.outDir, file), await encodePng(result.image));
        items.push({ source, file, class: cls, origin, width: result.image.width, height: result.image.height, draw: result.draw });
      }
    }
    const sets = sources.map((source) => {
      const mine = items.filter((it) => it.source === source);
      const perClass: Record<string, number> = {};
      for (const it of mine) perClass[it.class] = (perClass[it.class] ?? 0) + 1;
      return {
        source,
        dir: `sets/${source}`,
        description: FOREIGN_SOURCE_DESCRIPTIONS[source],
        images: mine.length,
        perClass,
        skipped: skipped.filter((s) => s.source === source).length,
      };
    });
    const summary = {
      note: 'Simulated foreign sources built only from the originals of the split\'s test rows; labels are those of the originals.',
      seed: ctx.params.seed,
      testOriginals: originals.size,
      sets,
      skipped,
      items,
    };
    await writeFile(path.join(ctx.outDir, 'sets.json'), JSON.stringify(summary, null, 2) + '\n');
    const perClass = ctx.params.contactSheetPerClass ?? 6;
    if (perClass > 0) for (const source of sources) await contactSheet(ctx.outDir, source, items, perClass);
    ctx.log(`shifted: ${originals.size} test originals → ${sets.map((s) => `${s.source} ${s.images}`).join(', ')}`);
  },
});

/** Stems are unique per class (two originals with the same name in different folders stay apart). */
function uniqueStem(cls: string, stem: string, used: Set<string>): string {
  let name = stem;
  for (let k = 2; used.has(`${cls}/${name}`); k++) name = `${stem}-${k}`;
  used.add(`${cls}/${name}`);
  return name;
}

/** One row per class, the first `perClass` images of the set, each fitted into a grey-bordered tile. */
async function contactSheet(outDir: string, source: ForeignSource, items: ShiftedItem[], perClass: number): Promise<void> {
  const tile = 96;
  const classes = [...new Set(items.filter((i) => i.source === source).map((i) => i.class))].sort();
  if (classes.length === 0) return;
  const overlays: OverlayOptions[] = [];
  for (const [r, cls] of classes.entries()) {
    const mine = items.filter((i) => i.source === source && i.class === cls).slice(0, perClass);
    for (const [c, it] of mine.entries()) {
      const input = await sharp(path.join(outDir, it.file))
        .resize(tile - 2, tile - 2, { fit: 'contain', background: '#ffffff' })
        .extend({ top: 1, bottom: 1, left: 1, right: 1, background: '#b0b0b0' })
        .png()
        .toBuffer();
      overlays.push({ input, left: c * tile, top: r * tile });
    }
  }
  await sharp({ create: { width: perClass * tile, height: classes.length * tile, channels: 3, background: '#ffffff' } })
    .composite(overlays)
    .jpeg({ quality: 85 })
    .toFile(path.join(outDir, `contact-sheet-${source}.jpg`));
}
