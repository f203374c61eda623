// Decodes an image file into size×size 8-bit RGB, transparent pixels flattened onto white (the
// background convention of the segmented cells).
import sharp from 'sharp';

export async function readImageRgb(path: string, size: number): Promise<Uint8Array> {
  try {
    const { data, info } = await sharp(path)
      .flatten({ background: '#ffffff' })
      .removeAlpha()
      .resize(size, size, { fit: 'fill', kernel: 'lanczos3' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (error) {
    throw new Error(`${path}: cannot read image (${(error as Error).message})`);
  }
}
