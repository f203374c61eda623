// GrabCut refinement of a smear cell's outline: it recovers pale cytoplasm that purple-ness cannot tell
// from a yellowish plasma, and it is only ever taken when the result is a plausible cell.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findCell, toCanonicalCell } from '../../stages/lib/cell/cell-representation.js';
import { refineCellWithGrabCut } from '../../stages/lib/cell/grabcut-refinement.js';
import { dice, maskArea } from '../../stages/lib/image/raster.js';
import { encodePng } from '../../stages/lib/image/decode.js';
import type { SegmentRecord } from '../../stages/lib/records/segment-record.js';
import segment, { type SegmentParams } from '../../stages/segment.js';
import { inputFile, makeContext, runPerItem, tempDir } from './context.js';
import { discMask, NUCLEUS, paint, RED_CELL } from './synthetic.js';

// Plasma and cytoplasm are equally (un)purple (blue − green = −20): only lightness and hue tell them apart.
const YELLOWISH_PLASMA: [number, number, number] = [238, 228, 208];
const PALE_CYTOPLASM: [number, number, number] = [200, 196, 176];

function paleSmear(): { image: ReturnType<typeof paint>; truth: ReturnType<typeof discMask> } {
  const image = paint(160, 160, YELLOWISH_PLASMA, [
    { cx: 30, cy: 130, r: 20, rgb: RED_CELL },
    { cx: 135, cy: 30, r: 18, rgb: RED_CELL },
    { cx: 80, cy: 80, r: 36, rgb: PALE_CYTOPLASM },
    { cx: 82, cy: 78, r: 16, rgb: NUCLEUS },
  ]);
  return { image, truth: discMask(160, 160, 80, 80, 36) };
}

test('purple-ness alone loses the pale cytoplasm; GrabCut gives it back', async () => {
  const { image, truth } = paleSmear();
  const found = findCell(image);
  assert.ok(found.ok, 'cell found');
  if (!found.ok) return;
  const before = dice(found.cell, truth);
  const { cell, refined } = await refineCellWithGrabCut(image, found);
  const after = dice(cell, truth);
  assert.ok(refined, 'refinement taken');
  assert.ok(before < 0.8, `purple-ness Dice ${before.toFixed(3)} (expected the cytoplasm to be lost)`);
  assert.ok(after >= 0.95, `GrabCut Dice ${after.toFixed(3)}`);
});

test('segment option refine: grabcut reaches the canonical cell (larger cell, smaller scale)', async () => {
  const { image } = paleSmear();
  const plain = await toCanonicalCell(image, { size: 64 });
  const refined = await toCanonicalCell(image, { size: 64, refine: 'grabcut' });
  assert.is(refined.record.background, 'smear');
  assert.ok(refined.record.cellArea > 1.8 * plain.record.cellArea, `${refined.record.cellArea} vs ${plain.record.cellArea}`);
  assert.ok(Math.abs(refined.record.cellArea - Math.PI * 36 * 36) < 0.08 * Math.PI * 36 * 36, `area ${refined.record.cellArea}`);
  assert.ok(refined.record.scale < plain.record.scale);
});

test('an implausible refinement (a cell cut by the image edge) leaves the outline as it was', async () => {
  // The cell fills a tight crop: the colour models have no plasma beyond its edge, and a cell that
  // reaches the edge where the purple-ness one did not is refused.
  const image = paint(80, 80, PALE_CYTOPLASM, [
    { cx: 40, cy: 40, r: 30, rgb: [180, 160, 200] },
    { cx: 40, cy: 40, r: 14, rgb: NUCLEUS },
  ]);
  const found = findCell(image);
  assert.ok(found.ok);
  if (!found.ok) return;
  const { cell, refined } = await refineCellWithGrabCut(image, found);
  if (refined) assert.ok(maskArea(cell) < 80 * 80, "not the whole crop");
  else assert.is(cell, found.cell);
});

test('segment with refine: grabcut records the setting for predict and writes the whole pale cell', async () => {
  const ws = tempDir();
  const file = path.join(ws, 'lab-b/NEUTROPHIL/pale.png');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, await encodePng(paleSmear().image));
  const areas: Record<string, number> = {};
  for (const refine of ['none', 'grabcut'] as const) {
    const params: SegmentParams = { classes: ['NEUTROPHIL'], size: 64, margin: 0.1, onFailure: 'keep', refine };
    const ctx = makeContext('segment', params, { workspace: ws, outDir: path.join(ws, `out-${refine}`), inputs: [inputFile(ws, file)] });
    await runPerItem(segment, ctx);
    const summary = JSON.parse(readFileSync(path.join(ctx.outDir, 'summary.json'), 'utf8'));
    // train copies these options into its record, and predict cuts foreign images with them.
    assert.equal(summary.params, { size: 64, margin: 0.1, refine });
    const record = JSON.parse(readFileSync(path.join(ctx.outDir, 'records.jsonl'), 'utf8').trim()) as SegmentRecord;
    assert.is(record.status, 'ok');
    areas[refine] = record.cellArea;
  }
  assert.ok(areas.grabcut! > 1.8 * areas.none!, JSON.stringify(areas));
});

test.run();
