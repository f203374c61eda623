// Images embedded in the page as data: URIs, downscaled so the report stays small and offline.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';

/** JPEG data URI of `file` fitted inside `maxSide`×`maxSide` on white (cells have white backgrounds). */
export async function imageDataUri(file: string, maxSide: number, quality = 82): Promise<string> {
  const input = await readFile(file);
  const jpeg = await sharp(input)
    .flatten({ background: '#ffffff' })
    .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality })
    .toBuffer();
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
}
