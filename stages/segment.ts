// segment (per item): each original image → the canonical cell (leukocyte nearest the centre, on
// white, canonical scale), its mask and a record. Failures are recorded by name and handled by the
// declared `onFailure` policy; nothing an image contains can crash the run.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { definePerItemStage, StageError, type InputFile, type ItemOutputs, type StageContext } from '../pipeline/stage-api.js';
import { CELL_REFINEMENTS, encodeCanonical, MIN_SIDE, toCanonicalCell, type CellRefinement } from './lib/cell/cell-representation.js';
import { contactSheet, type SheetEntry } from './lib/image/contact-sheet.js';
import { ImageDecodeError } from './lib/image/decode.js';
import { cellKey, json, writeAllOrNothing } from './lib/io/item-files.js';
import type { SegmentRecord, SegmentStatus } from './lib/records/segment-record.js';

export interface SegmentParams {
  classes: string[];
  size: number;
  margin: number;
  /** What to do when no cell is found: keep the unsegmented centre crop, or drop the image. */
  onFailure: 'keep' | 'drop';
  /** Images per class on each contact sheet. */
  contactSheetCount?: number;
  maxWorkingPixels?: number;
  /** How a smear cell's outline is finished: `grabcut` refines the purple-ness outline (keeps pale cytoplasm). */
  refine?: CellRefinement;
}

const paramsSchema = {
  type: 'object',
  required: ['classes', 'size', 'margin', 'onFailure'],
  properties: {
    classes: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    size: { type: 'integer', minimum: 16, maximum: 1024 },
    margin: { type: 'number', minimum: 0, maximum: 0.4 },
    onFailure: { enum: ['keep', 'drop'] },
    contactSheetCount: { type: 'integer', minimum: 0, maximum: 200 },
    maxWorkingPixels: { type: 'integer', minimum: 10000 },
    refine: { enum: [...CELL_REFINEMENTS] },
  },
};

/** Segments one original; never throws for bad image content (that becomes a `rejected` record). */
export async function segmentOne(input: InputFile, params: SegmentParams): Promise<{ record: SegmentRecord; files: Record<string, Buffer | string> }> {
  const { lab, className, key } = cellKey(input.rel);
  const base = {
    file: input.rel,
    class: className,
    lab,
    sha256: input.hash,
    confidence: 0,
    cellArea: 0,
    nucleusArea: 0,
    bbox: null,
    scale: 0,
    sourceWidth: 0,
    sourceHeight: 0,
    cell: null,
    mask: null,
  };
  const recordPath = `records/${key}.json`;
  const finish = (record: SegmentRecord, extra: Record<string, Buffer> = {}) => ({ record, files: { ...extra, [recordPath]: json(record) } });
  if (!params.classes.includes(className)) {
    return finish({ ...base, status: 'rejected', reason: `class folder "${className}" is not in params.classes (${params.classes.join(', ')})` });
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(input.path);
  } catch (e) {
    return finish({ ...base, status: 'rejected', reason: `cannot read file (${(e as Error).message})` });
  }
  if (bytes.length === 0) return finish({ ...base, status: 'rejected', reason: 'empty file' });
  let result;
  try {
    result = await toCanonicalCell(bytes, { size: params.size, margin: params.margin, maxWorkingPixels: params.maxWorkingPixels, refine: params.refine, name: input.rel });
  } catch (e) {
    const reason = e instanceof ImageDecodeError ? e.message.replace(`${input.rel}: `, '') : `segmentation error (${(e as Error).message})`;
    return finish({ ...base, status: 'rejected', reason });
  }
  const rec = result.record;
  if (rec.sourceWidth < MIN_SIDE || rec.sourceHeight < MIN_SIDE) {
    return finish({ ...base, ...rec, status: 'rejected', reason: `image too small (${rec.sourceWidth}×${rec.sourceHeight} px, need ≥ ${MIN_SIDE})` });
  }
  if (result.status === 'fallback' && params.onFailure === 'drop') {
    return finish({ ...base, ...rec, status: 'dropped', reason: `no cell found: ${rec.reason}` });
  }
  const { cellPng, maskPng } = await encodeCanonical(result);
  const cell = `cells/${key}.png`;
  const mask = `masks/${key}.png`;
  return finish({ ...base, ...rec, status: result.status, cell, mask }, { [cell]: cellPng, [mask]: maskPng });
}

export default definePerItemStage<SegmentParams>({
  paramsSchema,
  async processItems(ctx, items) {
    let done = 0;
    for (const item of items) {
      if (ctx.signal.aborted) throw new StageError('cancelled', ctx.instanceId);
      const { record, files } = await segmentOne(item.input, ctx.params);
      await writeAllOrNothing(item.outDir, files);
      if (record.status !== 'ok') ctx.warn(`${record.file}: ${record.status} — ${record.reason}`);
      ctx.progress(++done, items.length, record.file);
    }
  },
  async finalize(ctx, items) {
    await summarize(ctx, items);
  },
});

/** records.jsonl, summary.json and one contact sheet per class, from every item's record. */
export async function summarize(ctx: StageContext<SegmentParams>, items: ItemOutputs[]): Promise<void> {
  const originals = new Map(items.map((i) => [i.input.rel, i.input.path] as const));
  const records: SegmentRecord[] = [];
  for (const item of items) {
    for (const f of item.files) {
      if (f.startsWith('records/') && f.endsWith('.json')) records.push(JSON.parse(await readFile(path.join(ctx.outDir, f), 'utf8')));
    }
  }
  records.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  await writeFile(path.join(ctx.outDir, 'records.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));

  const zero = (): Record<SegmentStatus, number> => ({ ok: 0, fallback: 0, dropped: 0, rejected: 0 });
  const byClass: Record<string, Record<SegmentStatus, number>> = {};
  for (const c of ctx.params.classes) byClass[c] = zero();
  const byLab: Record<string, Record<string, Record<SegmentStatus, number>>> = {};
  for (const r of records) {
    (byClass[r.class] ??= zero())[r.status]++;
    const lab = (byLab[r.lab] ??= Object.fromEntries(ctx.params.classes.map((c) => [c, zero()])));
    (lab[r.class] ??= zero())[r.status]++;
  }
  const emptyClasses = Object.entries(byLab).flatMap(([lab, classes]) =>
    Object.entries(classes).filter(([, n]) => n.ok + n.fallback + n.dropped + n.rejected === 0).map(([c]) => `${lab}/${c}`),
  );
  const confidences = records.filter((r) => r.status === 'ok').map((r) => r.confidence).sort((a, b) => a - b);
  const { size, margin, maxWorkingPixels, refine } = ctx.params;
  const summary = {
    // The canonical-cell options, which train records so that predict cuts foreign images the same way.
    params: { size, margin, ...(maxWorkingPixels !== undefined && { maxWorkingPixels }), ...(refine !== undefined && { refine }) },
    total: records.length,
    byStatus: countBy(records.map((r) => r.status)),
    byClass,
    byLab,
    emptyClasses,
    medianConfidence: confidences.length ? confidences[Math.floor(confidences.length / 2)] : null,
    failures: records.filter((r) => r.status !== 'ok').map((r) => ({ file: r.file, status: r.status, reason: r.reason })),
  };
  await writeFile(path.join(ctx.outDir, 'summary.json'), json(summary));
  for (const c of emptyClasses) ctx.warn(`class "${c}" has no images`);
  if (summary.failures.length) ctx.warn(`${summary.failures.length} of ${records.length} images not segmented cleanly; see summary.json`);

  const perSheet = ctx.params.contactSheetCount ?? 24;
  if (perSheet === 0) return;
  // One sheet per lab and class: every lab's segmentation is checked by eye, not only the first lab's.
  for (const [lab, className] of Object.entries(byLab).flatMap(([lab, classes]) => Object.keys(classes).map((c) => [lab, c] as const))) {
    const withCell = records.filter((r) => r.lab === lab && r.class === className && r.cell && r.mask);
    // Failures first (they need looking at), then an even spread over the rest.
    const failed = withCell.filter((r) => r.status !== 'ok');
    const ok = withCell.filter((r) => r.status === 'ok');
    const room = Math.max(0, perSheet - failed.length);
    const step = ok.length / Math.max(1, room);
    const chosen = [...failed.slice(0, perSheet), ...Array.from({ length: Math.min(room, ok.length) }, (_, k) => ok[Math.floor(k * step)]!)];
    if (chosen.length === 0) continue;
    const entries: SheetEntry[] = [];
    for (const r of chosen) {
      const original = originals.get(r.file);
      if (!original) continue;
      entries.push({
        original: await readFile(original),
        cell: await readFile(path.join(ctx.outDir, r.cell!)),
        mask: await readFile(path.join(ctx.outDir, r.mask!)),
        label: `${path.basename(r.file)} ${r.status} ${r.confidence.toFixed(2)}`,
      });
    }
    await writeFile(path.join(ctx.outDir, `contact-sheet-${lab}-${className}.jpg`), await contactSheet(entries));
  }
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
