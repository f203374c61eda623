// Cytoplasm loss: what a canonical cell looks like after a segmentation that kept only a rim of
// cytoplasm, and the augment variants it drives.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import augment, { drawCytoplasmRim, type AugmentParams } from '../../stages/augment.js';
import { withCytoplasmLoss } from '../../stages/lib/shift/cytoplasm-loss.js';
import { decodeRgb, encodePng } from '../../stages/lib/image/decode.js';
import type { RgbImage } from '../../stages/lib/image/raster.js';
import { inputFile, makeContext, runPerItem, tempDir } from './context.js';
import { CYTOPLASM, NUCLEUS, paint } from './synthetic.js';

/** A canonical-looking cell on white: cytoplasm disc of radius 40 (side 100), nucleus of radius 14, one purple speck. */
function cellOnWhite(): RgbImage {
  return paint(100, 100, [255, 255, 255], [
    { cx: 50, cy: 50, r: 40, rgb: CYTOPLASM },
    { cx: 50, cy: 50, r: 14, rgb: NUCLEUS },
    { cx: 80, cy: 50, r: 2, rgb: NUCLEUS }, // a granule: not nucleus
  ]);
}

function census(image: RgbImage): { cell: number; nucleus: number } {
  let cell = 0, nucleus = 0;
  for (let i = 0; i < image.width * image.height; i++) {
    const [r, g, b] = [image.data[3 * i]!, image.data[3 * i + 1]!, image.data[3 * i + 2]!];
    if (Math.min(r, g, b) < 235) cell++;
    if (Math.abs(r - NUCLEUS[0]) + Math.abs(g - NUCLEUS[1]) + Math.abs(b - NUCLEUS[2]) < 60) nucleus++;
  }
  return { cell, nucleus };
}

test('withCytoplasmLoss keeps the nucleus and a rim around it, re-cropped by the canonical rule', async () => {
  const before = cellOnWhite();
  const after = await withCytoplasmLoss(before, 0.1, 0.1);
  assert.is(after.width, 100);
  assert.is(after.height, 100);
  const a = census(before), b = census(after);
  // Before: nucleus/cell = 14²/40² ≈ 0.12. After: the cell is nucleus + a rim of 0.1 × 40 = 4 px (r ≈ 18),
  // scaled back up to the same side, so the nucleus fills most of it.
  assert.ok(a.nucleus / a.cell < 0.15, `before ${a.nucleus / a.cell}`);
  assert.ok(b.nucleus / b.cell > 0.5, `after ${b.nucleus / b.cell}`);
  // Canonical scale: the kept cell's equivalent diameter is (1 − 2·margin) of the side again (a speck
  // taken for nucleus would have kept a blob far right, widening the box and shrinking the cell).
  const diameter = 2 * Math.sqrt(b.cell / Math.PI);
  assert.ok(Math.abs(diameter - 80) < 6, `equivalent diameter ${diameter}`);
  assert.is(census(await withCytoplasmLoss(before, 0.1, 0.1)).cell, b.cell, 'deterministic');
  // A wide rim keeps the whole cell.
  const wide = census(await withCytoplasmLoss(before, 2, 0.1));
  assert.ok(Math.abs(wide.cell - a.cell) / a.cell < 0.05);
});

test('a white image with no cell comes back unchanged', async () => {
  const blank = paint(40, 40, [255, 255, 255], []);
  assert.is(await withCytoplasmLoss(blank, 0.1, 0.1), blank);
});

const base: AugmentParams = { variants: 6, seed: 3, rotation: 20, widthShift: 0.1, heightShift: 0.1, shear: 0.2, horizontalFlip: true, verticalFlip: true, fill: 'white' };

test('augment with cytoplasmLoss: the drawn share of variants change, the others stay byte-identical, the record says which', async () => {
  const ws = tempDir();
  mkdirSync(path.join(ws, 'cells/NEUTROPHIL'), { recursive: true });
  writeFileSync(path.join(ws, 'cells/NEUTROPHIL/a.png'), await encodePng(cellOnWhite()));
  const inputs = [inputFile(ws, path.join(ws, 'cells/NEUTROPHIL/a.png'), 'normalize')];
  const withLoss = { ...base, cytoplasmLoss: { share: 0.5, rim: [0.05, 0.3] as [number, number], margin: 0.1 } };
  const plain = makeContext('augment', base, { workspace: ws, inputs });
  await runPerItem(augment, plain);
  const lossy = makeContext('augment', withLoss, { workspace: ws, inputs });
  await runPerItem(augment, lossy);
  const record = JSON.parse(readFileSync(path.join(lossy.outDir, 'variants/NEUTROPHIL/a.json'), 'utf8'));
  const rims = record.variants.map((v: { cytoplasmRim: number | null }) => v.cytoplasmRim);
  assert.equal(rims, [0, 1, 2, 3, 4, 5].map((k) => drawCytoplasmRim(withLoss, inputs[0]!.hash, k)));
  assert.ok(rims.some((r: number | null) => r === null) && rims.some((r: number | null) => r !== null), `rims ${JSON.stringify(rims)}`);
  for (const v of record.variants as { file: string; cytoplasmRim: number | null }[]) {
    const a = readFileSync(path.join(plain.outDir, v.file));
    const b = readFileSync(path.join(lossy.outDir, v.file));
    if (v.cytoplasmRim === null) assert.ok(a.equals(b), `${v.file} should be untouched`);
    else {
      assert.ok(v.cytoplasmRim >= 0.05 && v.cytoplasmRim <= 0.3);
      const [ca, cb] = [census(await decodeRgb(a)), census(await decodeRgb(b))];
      assert.ok(cb.nucleus / cb.cell > ca.nucleus / ca.cell + 0.1, `${v.file}: the nucleus should fill more of the cell`);
    }
  }
  assert.is(drawCytoplasmRim(base, inputs[0]!.hash, 0), null, 'off unless set');
  assert.is(drawCytoplasmRim({ ...withLoss, cytoplasmLoss: { ...withLoss.cytoplasmLoss, share: 0 } }, inputs[0]!.hash, 0), null);
});

test.run();
