import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findCell, toCanonicalCell } from '../../stages/lib/cell/cell-representation.js';
import { encodePng } from '../../stages/lib/image/decode.js';
import { dice, maskArea } from '../../stages/lib/image/raster.js';
import segment, { type SegmentParams } from '../../stages/segment.js';
import type { SegmentRecord } from '../../stages/lib/records/segment-record.js';
import { inputFile, makeContext, runPerItem, tempDir } from './context.js';
import { CYTOPLASM, NUCLEUS, paint, pbcLike } from './synthetic.js';

test('findCell recovers the whole centre cell, not the touching red cell or the corner blob', () => {
  const { image, truth } = pbcLike();
  const found = findCell(image);
  assert.ok(found.ok, 'cell found');
  if (!found.ok) return;
  const d = dice(found.cell, truth);
  assert.ok(d >= 0.95, `Dice ${d.toFixed(3)}`);
  assert.ok(found.nucleus.data[100 * 200 + 105] === 1 && found.nucleus.data[15 * 200 + 15] === 0);
});

test('the cell nearest the centre wins over a bigger one near the edge', () => {
  const image = paint(240, 240, [240, 226, 205], [
    { cx: 40, cy: 40, r: 36, rgb: CYTOPLASM },
    { cx: 40, cy: 40, r: 22, rgb: NUCLEUS },
    { cx: 130, cy: 125, r: 28, rgb: CYTOPLASM },
    { cx: 130, cy: 125, r: 14, rgb: NUCLEUS },
  ]);
  const found = findCell(image);
  assert.ok(found.ok);
  if (found.ok) assert.is(found.cell.data[125 * 240 + 130], 1), assert.is(found.cell.data[40 * 240 + 40], 0);
});

test('canonical scale: the same cell at 1× and 2× magnification gives the same canonical mask', async () => {
  const a = await toCanonicalCell(pbcLike(200, 200).image, { size: 96 });
  const big = paint(400, 400, [240, 226, 205], [
    { cx: 200, cy: 200, r: 80, rgb: CYTOPLASM },
    { cx: 210, cy: 194, r: 40, rgb: NUCLEUS },
  ]);
  const b = await toCanonicalCell(big, { size: 96 });
  assert.is(a.status, 'ok');
  assert.is(b.status, 'ok');
  // The 1× scene also holds a touching red cell, of which a sliver may stay; the 2× scene does not.
  assert.ok(dice(a.mask, b.mask) > 0.92, `Dice ${dice(a.mask, b.mask)}`);
  // Equivalent diameter fills 1 − 2·margin of the side: area ≈ π(0.4·96)².
  const expected = Math.PI * (0.4 * 96) ** 2;
  assert.ok(Math.abs(maskArea(a.mask) - expected) / expected < 0.05);
  assert.ok(Math.abs(b.record.scale - a.record.scale / 2) < 0.02);
});

test('a tight crop already on white and off-centre is centred, and its background stays white', async () => {
  const img = paint(90, 70, [255, 255, 255], [
    { cx: 38, cy: 36, r: 30, rgb: [200, 170, 215] },
    { cx: 40, cy: 33, r: 16, rgb: [70, 40, 120] },
  ]);
  const r = await toCanonicalCell(await encodePng(img), { size: 64 });
  assert.is(r.status, 'ok');
  const centre = (32 * 64 + 32) * 3;
  assert.ok(r.cell.data[centre]! < 150, 'nucleus at the centre');
  assert.equal(Array.from(r.cell.data.subarray(0, 3)), [255, 255, 255]);
  assert.is(r.mask.data[0], 0);
});

test('an image with no stained cell is a fallback with a reason, not an exception', async () => {
  const r = await toCanonicalCell(paint(100, 100, [240, 226, 205], []), { size: 32 });
  assert.is(r.status, 'fallback');
  assert.ok(r.record.reason && r.record.reason.length > 0);
  assert.is(r.cell.width, 32);
});

// Images laid out as <lab>/<CLASS>/<name> (here lab "ds"), as the labs stage lays them out.
const params: SegmentParams = { classes: ['EOSINOPHIL', 'LYMPHOCYTE', 'EMPTY'], size: 64, margin: 0.1, onFailure: 'keep' };

async function badDataset() {
  const ws = tempDir();
  const root = path.join(ws, 'ds');
  for (const c of ['EOSINOPHIL', 'LYMPHOCYTE', 'EMPTY', 'BASOPHIL']) mkdirSync(path.join(root, c), { recursive: true });
  const good = await sharp(await encodePng(pbcLike().image)).jpeg({ quality: 95 }).toBuffer();
  writeFileSync(path.join(root, 'EOSINOPHIL/good.jpg'), good);
  writeFileSync(path.join(root, 'EOSINOPHIL/truncated.jpg'), good.subarray(0, Math.floor(good.length * 0.4)));
  writeFileSync(path.join(root, 'EOSINOPHIL/text.jpg'), 'this is not a JPEG\n');
  writeFileSync(path.join(root, 'LYMPHOCYTE/tiny.png'), await sharp({ create: { width: 1, height: 1, channels: 3, background: '#ffffff' } }).png().toBuffer());
  writeFileSync(path.join(root, 'LYMPHOCYTE/blank.png'), await encodePng(paint(80, 80, [240, 226, 205], [])));
  writeFileSync(path.join(root, 'BASOPHIL/other.jpg'), good);
  // 20 megapixels, the cell in the middle.
  const huge = await sharp({ create: { width: 5000, height: 4000, channels: 3, background: { r: 240, g: 226, b: 205 } } })
    .composite([{ input: await encodePng(pbcLike(400, 400).image), left: 2300, top: 1800 }])
    .jpeg({ quality: 80 })
    .toBuffer();
  writeFileSync(path.join(root, 'LYMPHOCYTE/huge.jpg'), huge);
  const files = ['EOSINOPHIL/good.jpg', 'EOSINOPHIL/truncated.jpg', 'EOSINOPHIL/text.jpg', 'LYMPHOCYTE/tiny.png', 'LYMPHOCYTE/blank.png', 'LYMPHOCYTE/huge.jpg', 'BASOPHIL/other.jpg'];
  return { ws, inputs: files.map((f) => inputFile(ws, path.join(root, f))) };
}

test('bad input: every file gets a named outcome, nothing crashes, no partial outputs', async () => {
  const { ws, inputs } = await badDataset();
  const ctx = makeContext('segment', params, { workspace: ws, inputs });
  await runPerItem(segment, ctx);
  const records = readFileSync(path.join(ctx.outDir, 'records.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SegmentRecord);
  const by = Object.fromEntries(records.map((r) => [path.basename(r.file), r]));
  assert.is(by['good.jpg']!.status, 'ok');
  assert.is(by['huge.jpg']!.status, 'ok');
  assert.is(by['huge.jpg']!.sourceWidth, 5000);
  assert.ok(Math.abs(by['huge.jpg']!.bbox!.x - 2360) < 12, `bbox ${JSON.stringify(by['huge.jpg']!.bbox)}`);
  assert.is(by['truncated.jpg']!.status, 'rejected');
  assert.match(by['truncated.jpg']!.reason!, /damaged or truncated|not a readable/);
  assert.is(by['text.jpg']!.status, 'rejected');
  assert.match(by['text.jpg']!.reason!, /not a readable image/);
  assert.is(by['tiny.png']!.status, 'rejected');
  assert.match(by['tiny.png']!.reason!, /too small \(1×1/);
  assert.is(by['blank.png']!.status, 'fallback');
  assert.is(by['other.jpg']!.status, 'rejected');
  assert.match(by['other.jpg']!.reason!, /BASOPHIL.*not in params.classes/);
  // Only good, huge and blank (fallback, kept) have cells; rejected ones have a record and nothing else.
  assert.equal(readdirSync(path.join(ctx.outDir, 'cells/ds/EOSINOPHIL')), ['good.png']);
  assert.equal(readdirSync(path.join(ctx.outDir, 'cells/ds/LYMPHOCYTE')).sort(), ['blank.png', 'huge.png']);
  assert.not.ok(existsSync(path.join(ctx.outDir, 'cells/ds/BASOPHIL')));
  const summary = JSON.parse(readFileSync(path.join(ctx.outDir, 'summary.json'), 'utf8'));
  assert.equal(summary.emptyClasses, ['ds/EMPTY']);
  // The canonical-cell options travel to train (and from there to predict) through the summary.
  assert.equal(summary.params, { size: params.size, margin: params.margin });
  assert.is(summary.byStatus.rejected, 4);
  assert.is(summary.failures.length, 5);
  assert.ok(existsSync(path.join(ctx.outDir, 'contact-sheet-ds-EOSINOPHIL.jpg')));
  assert.ok(ctx.warnings.some((w) => /text\.jpg/.test(w)));
  const all = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? all(path.join(d, e.name)) : [e.name]));
  assert.ok(all(ctx.outDir).every((f) => !f.includes('.partial-')));
});

test('onFailure=drop records the failure and writes no cell; outputs are byte-identical across runs', async () => {
  const { ws, inputs } = await badDataset();
  const some = inputs.filter((i) => /good|blank/.test(i.rel));
  const a = makeContext('segment', { ...params, onFailure: 'drop' as const, contactSheetCount: 0 }, { workspace: ws, inputs: some });
  await runPerItem(segment, a);
  const rec = JSON.parse(readFileSync(path.join(a.outDir, 'records/ds/LYMPHOCYTE/blank.json'), 'utf8'));
  assert.is(rec.status, 'dropped');
  assert.not.ok(existsSync(path.join(a.outDir, 'cells/ds/LYMPHOCYTE/blank.png')));
  const b = makeContext('segment', { ...params, onFailure: 'drop' as const, contactSheetCount: 0 }, { workspace: ws, inputs: some });
  await runPerItem(segment, b);
  for (const f of ['cells/ds/EOSINOPHIL/good.png', 'masks/ds/EOSINOPHIL/good.png', 'records/ds/EOSINOPHIL/good.json']) {
    assert.ok(readFileSync(path.join(a.outDir, f)).equals(readFileSync(path.join(b.outDir, f))), f);
  }
});

test.run();
