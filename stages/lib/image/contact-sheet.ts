// Contact sheets: rows of (original | mask outline on the original | canonical cell) for eyeballing
// segmentation quality without opening files one by one.
import sharp from 'sharp';
import type { OverlayOptions } from 'sharp';

export interface SheetEntry {
  /** Encoded original image. */
  original: Buffer;
  /** Encoded canonical cell (PNG). */
  cell: Buffer;
  /** Encoded mask (PNG, white inside). */
  mask: Buffer;
  label: string;
}

/** JPEG contact sheet; `columns` entries per row, each entry three tiles of `tile` px. */
export async function contactSheet(entries: SheetEntry[], options: { tile?: number; columns?: number } = {}): Promise<Buffer> {
  const tile = options.tile ?? 96;
  const columns = Math.max(1, options.columns ?? 4);
  const cellW = tile * 3 + 8;
  const rows = Math.max(1, Math.ceil(entries.length / columns));
  const labelH = 14;
  const composites: OverlayOptions[] = [];
  for (const [i, e] of entries.entries()) {
    const left = (i % columns) * cellW, top = Math.floor(i / columns) * (tile + labelH);
    const orig = await sharp(e.original).flatten({ background: '#ffffff' }).resize(tile, tile, { fit: 'contain', background: '#ffffff' }).png().toBuffer();
    const mask = await sharp(e.mask).resize(tile, tile, { fit: 'fill' }).png().toBuffer();
    const cell = await sharp(e.cell).resize(tile, tile, { fit: 'fill' }).png().toBuffer();
    composites.push({ input: orig, left, top }, { input: mask, left: left + tile, top }, { input: cell, left: left + 2 * tile, top });
    composites.push({ input: Buffer.from(labelSvg(e.label, cellW - 8, labelH)), left, top: top + tile });
  }
  return sharp({ create: { width: columns * cellW, height: rows * (tile + labelH), channels: 3, background: '#ffffff' } })
    .composite(composites)
    .jpeg({ quality: 85 })
    .toBuffer();
}

function labelSvg(text: string, width: number, height: number): string {
  const safe = text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><text x="2" y="${height - 3}" font-family="sans-serif" font-size="10" fill="#333">${safe}</text></svg>`;
}
