// Cells already cut out onto white (the foreign images models are judged on): the canonical cell must
// keep pale cytoplasm and scale by the whole cell, not blow the bare nucleus up to the canonical size.
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findCellOnWhite, plainBackdrop, toCanonicalCell, whiteBorderFraction } from '../../stages/lib/cell/cell-representation.js';
import { dice, maskArea, type RgbImage } from '../../stages/lib/image/raster.js';
import { discMask, NUCLEUS, paint, pbcLike, RED_CELL } from './synthetic.js';

const WHITE: [number, number, number] = [255, 255, 255];
/** Pale pink cytoplasm with B = G, as purple-less as white: findCell (purple-ness) keeps only the nucleus here (Dice 0.38). */
const PALE_PINK: [number, number, number] = [236, 204, 204];

/** A cell of cytoplasm radius `r` (nucleus off-centre, radius 0.45 r) on pure white, scaled by `k`. */
function cellOnWhite(k: number): { image: RgbImage; truth: ReturnType<typeof discMask>; r: number } {
  const side = 200 * k, c = 100 * k, r = 40 * k;
  const image = paint(side, side, WHITE, [
    { cx: c, cy: c, r, rgb: PALE_PINK },
    { cx: c + 6 * k, cy: c - 4 * k, r: 18 * k, rgb: NUCLEUS },
  ]);
  return { image, truth: discMask(side, side, c, c, r), r };
}

/** The known disc as it must appear in the canonical square (equivalent-diameter rule, margin 0.1). */
function canonicalDisc(size = 128, margin = 0.1) {
  const c = (size - 1) / 2;
  return discMask(size, size, c, c, (size * (1 - 2 * margin)) / 2);
}

test('findCellOnWhite returns the whole cell (pale cytoplasm included), not just the nucleus', () => {
  const { image, truth } = cellOnWhite(1);
  const found = findCellOnWhite(image);
  assert.ok(found.ok);
  if (!found.ok) return;
  assert.ok(dice(found.cell, truth) >= 0.95, `dice ${dice(found.cell, truth)}`);
  // The nucleus record is the purple part only: about (18/40)² of the cell.
  const ratio = maskArea(found.nucleus) / maskArea(found.cell);
  assert.ok(ratio > 0.15 && ratio < 0.25, `nucleus/cell ${ratio}`);
});

test('toCanonicalCell takes the white path on white input and its canonical mask matches the known disc', async () => {
  const { image } = cellOnWhite(1);
  const result = await toCanonicalCell(image);
  assert.is(result.status, 'ok');
  assert.is(result.record.background, 'white');
  const d = dice(result.mask, canonicalDisc());
  assert.ok(d >= 0.95, `canonical dice ${d}`);
  // Outside the mask the canonical cell is pure white; inside, pale pink survives.
  const centreRow = 64 * 128;
  const nearEdge = 3 * (centreRow + 64 - 48);
  assert.ok(result.cell.data[nearEdge]! < 250 && result.cell.data[nearEdge + 1]! < 230, 'pale cytoplasm kept near the edge');
});

test('the same cell at 2× scale gives the same canonical mask and half the scale', async () => {
  const one = await toCanonicalCell(cellOnWhite(1).image);
  const two = await toCanonicalCell(cellOnWhite(2).image);
  assert.is(two.record.background, 'white');
  const d = dice(one.mask, two.mask);
  assert.ok(d >= 0.97, `dice between scales ${d}`);
  assert.ok(Math.abs(two.record.scale / one.record.scale - 0.5) < 0.02, `scales ${one.record.scale} / ${two.record.scale}`);
});

test('white-border detection survives JPEG compression and a tight crop', async () => {
  const { image } = cellOnWhite(1);
  // Tight crop: 4 px of white around the cell, as the shifted stage's white-tight set cuts them.
  const tight = await sharp(Buffer.from(image.data), { raw: { width: 200, height: 200, channels: 3 } })
    .extract({ left: 56, top: 56, width: 88, height: 88 })
    .jpeg({ quality: 75 })
    .toBuffer();
  const result = await toCanonicalCell(tight);
  assert.is(result.record.background, 'white');
  assert.is(result.status, 'ok');
  const d = dice(result.mask, canonicalDisc());
  assert.ok(d >= 0.93, `canonical dice after JPEG ${d}`);
});

test('a smear crop (plasma and red cells at the border) keeps the smear path', async () => {
  const { image } = pbcLike();
  assert.ok(whiteBorderFraction(image) < 0.1);
  const result = await toCanonicalCell(image);
  assert.is(result.record.background, 'smear');
  assert.is(result.status, 'ok');
});

test('a cell cut out onto light grey instead of white takes the plain path and matches the white result', async () => {
  const onWhite = await toCanonicalCell(cellOnWhite(1).image);
  const grey = paint(200, 200, [228, 228, 228], [
    { cx: 100, cy: 100, r: 40, rgb: PALE_PINK.map((v) => Math.min(v, 212)) as [number, number, number] },
    { cx: 106, cy: 96, r: 18, rgb: NUCLEUS },
  ]);
  assert.ok(whiteBorderFraction(grey) < 0.1, 'no white border at all');
  assert.equal(plainBackdrop(grey), { level: 228, share: 1 });
  const result = await toCanonicalCell(grey);
  assert.is(result.record.background, 'plain');
  assert.is(result.status, 'ok');
  const d = dice(result.mask, onWhite.mask);
  assert.ok(d >= 0.95, `dice against the white-background result ${d}`);
  // Outside the cell the canonical square is pure white, not the grey backdrop.
  assert.equal([...result.cell.data.subarray(0, 3)], [255, 255, 255]);
});

test('a cell cut so tightly that it touches the border still takes a backdrop path, not the smear search', async () => {
  const { image } = cellOnWhite(1);
  const tight = await sharp(Buffer.from(image.data), { raw: { width: 200, height: 200, channels: 3 } })
    .extract({ left: 60, top: 60, width: 81, height: 81 })
    .png()
    .toBuffer();
  const result = await toCanonicalCell(tight);
  assert.ok(['white', 'plain'].includes(result.record.background ?? ''), `took ${result.record.background}`);
  assert.ok(dice(result.mask, canonicalDisc()) >= 0.9, `dice ${dice(result.mask, canonicalDisc())}`);
});

test('a pale neutral smear (grey plasma, red cells around) is not taken for a plain backdrop', async () => {
  const smear = paint(200, 200, [226, 226, 226], [
    { cx: 162, cy: 100, r: 26, rgb: RED_CELL },
    { cx: 25, cy: 170, r: 24, rgb: RED_CELL },
    { cx: 40, cy: 45, r: 22, rgb: RED_CELL },
    { cx: 160, cy: 30, r: 22, rgb: RED_CELL },
    { cx: 100, cy: 100, r: 40, rgb: PALE_PINK.map((v) => Math.min(v, 212)) as [number, number, number] },
    { cx: 106, cy: 96, r: 18, rgb: NUCLEUS },
  ]);
  assert.ok(plainBackdrop(smear), 'its border alone looks like a backdrop');
  const result = await toCanonicalCell(smear);
  assert.is(result.record.background, 'smear', 'red cells make it a smear: the cell holds too small a share of what is not backdrop');
});

test('a blank white image is a fallback on the white path, with a reason', async () => {
  const blank = paint(64, 64, WHITE, []);
  const result = await toCanonicalCell(blank);
  assert.is(result.status, 'fallback');
  assert.is(result.record.background, 'white');
  assert.match(result.record.reason ?? '', /no non-white region/);
});

test.run();
