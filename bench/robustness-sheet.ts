// Contact sheet: PBC originals (one row each), through every simulated foreign source; per source three
// tiles: the foreign image, its canonical cell (cell-representation), and that cell normalised.
//   node --import tsx bench/robustness-sheet.ts [method] [out.png]
import fg from 'fast-glob'; import sharp, { type OverlayOptions } from 'sharp'; import { readFile } from 'node:fs/promises';
import { decodeRgb, encodePng } from '../stages/lib/image/decode.js';
import { makeForeignImage, FOREIGN_SOURCES, type ForeignSource } from '../stages/lib/shift/simulated-source.js';
import { toCanonicalCell } from '../stages/lib/cell/cell-representation.js';
import { normalizeCell, type NormalizeMethod } from '../stages/lib/stain/normalize-cell.js';
const files = (await fg('data/pbc_wbc4/*/*.jpg')).sort().filter((_, i) => i % 200 === 7);
const T = 128; const tiles: OverlayOptions[] = []; let row = 0;
const cols = ['orig', ...FOREIGN_SOURCES];
for (const f of files) {
  const orig = await decodeRgb(await readFile(f));
  let col = 0;
  for (const src of cols) {
    const img = src === 'orig' ? orig : (await makeForeignImage(src as ForeignSource, orig, 1000 + row * 7 + col))?.image;
    if (!img) { col += 3; continue; }
    const raw = await sharp(await encodePng(img)).resize(T, T, { fit: 'contain', background: '#808080' }).png().toBuffer();
    tiles.push({ input: raw, left: col * T, top: row * T }); col++;
    const can = await toCanonicalCell(img);
    tiles.push({ input: await encodePng(can.cell), left: col * T, top: row * T }); col++;
    const n = normalizeCell(can.cell.data, T, T, { method: (process.argv[2] ?? 'reinhard') as NormalizeMethod });
    tiles.push({ input: await encodePng({ width: T, height: T, data: n }), left: col * T, top: row * T }); col++;
    if (can.status !== 'ok') console.log('fallback', f, src, can.record.reason);
  }
  row++;
}
await sharp({ create: { width: cols.length * 3 * T, height: row * T, channels: 3, background: '#ffffff' } }).composite(tiles).png().toFile(process.argv[3] ?? '/tmp/rob/sheet.png');
console.log('rows', row);
