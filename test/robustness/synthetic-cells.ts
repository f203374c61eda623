// Small synthetic images with known content for the robustness tests (not a test file itself).

export interface Raster {
  width: number;
  height: number;
  data: Uint8Array;
}

type Rgb = [number, number, number];

/** A disc-shaped "cell" (cytoplasm ring around a nucleus) on pure white. */
export function cellOnWhite(size = 48, nucleus: Rgb = [110, 60, 150], cytoplasm: Rgb = [200, 160, 200]): Raster {
  const data = new Uint8Array(size * size * 3).fill(255);
  const c = (size - 1) / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - c, y - c);
      const p = (y * size + x) * 3;
      // A little texture, so standard deviations are not zero.
      const t = ((x * 7 + y * 13) % 11) - 5;
      if (d < size * 0.2) data.set([nucleus[0] + t, nucleus[1] + t, nucleus[2] + t], p);
      else if (d < size * 0.38) data.set([cytoplasm[0] + t, cytoplasm[1] + t, cytoplasm[2] + t], p);
    }
  }
  return { width: size, height: size, data };
}

/** A PBC-like smear crop: plasma background, a few pink red cells, a purple leukocyte in the middle. */
export function smearCrop(size = 96, seed = 0): Raster {
  const data = new Uint8Array(size * size * 3);
  const c = (size - 1) / 2;
  const reds = [
    [size * 0.12, size * 0.15],
    [size * 0.85, size * 0.2],
    [size * 0.15, size * 0.85],
    [size * 0.88, size * 0.8],
  ];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = (y * size + x) * 3;
      const t = ((x * 5 + y * 3 + seed) % 7) - 3;
      let px: Rgb = [240 + t, 222 + t, 200 + t];
      for (const [rx, ry] of reds) if (Math.hypot(x - rx!, y - ry!) < size * 0.11) px = [222 + t, 170 + t, 172 + t];
      const d = Math.hypot(x - c, y - c);
      if (d < size * 0.22) px = [196 + t, 168 + t, 214 + t];
      if (d < size * 0.13) px = [100 + t, 50 + t, 140 + t];
      data.set(px, p);
    }
  }
  return { width: size, height: size, data };
}

export function isWhite(data: Uint8Array, p: number): boolean {
  return data[p] === 255 && data[p + 1] === 255 && data[p + 2] === 255;
}
