// Writes small labelled PNG cells (a coloured disc on white, colour by class, jittered by a seed) for
// study tests, and a split layout as the split stage writes it.
import sharp from 'sharp';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../../stages/lib/random.js';

export const TINY_CLASSES = ['EOSINOPHIL', 'LYMPHOCYTE'];
const COLOURS: Record<string, [number, number, number]> = {
  EOSINOPHIL: [200, 60, 80],
  LYMPHOCYTE: [60, 60, 200],
  MONOCYTE: [120, 80, 160],
  NEUTROPHIL: [160, 100, 140],
};

export async function tinyCellPng(className: string, seed: number, size = 24): Promise<Buffer> {
  const random = mulberry32(seed);
  const [r, g, b] = COLOURS[className] ?? [0, 0, 0];
  const data = Buffer.alloc(size * size * 3, 255);
  const cx = size / 2 + (random() - 0.5) * 4;
  const cy = size / 2 + (random() - 0.5) * 4;
  const radius = size * (0.25 + random() * 0.1);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      if ((x - cx) ** 2 + (y - cy) ** 2 > radius ** 2) continue;
      const o = (y * size + x) * 3;
      const n = (random() - 0.5) * 30;
      data[o] = Math.max(0, Math.min(255, r + n));
      data[o + 1] = Math.max(0, Math.min(255, g + n));
      data[o + 2] = Math.max(0, Math.min(255, b + n));
    }
  return sharp(data, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `leukopipe-${prefix}-`));
}

/**
 * Lays out `<root>/normalize/cells/<CLASS>/<n>.png` and `<root>/split/{train,val,test}.csv` (files named
 * `normalize/cells/...`), `perClass` images per class per split.
 */
export async function writeTinyStudy(
  root: string,
  options: { classes?: string[]; perClass?: { train: number; val: number; test: number }; size?: number } = {},
): Promise<{ normalizeDir: string; splitDir: string }> {
  const classes = options.classes ?? TINY_CLASSES;
  const perClass = options.perClass ?? { train: 4, val: 2, test: 2 };
  const normalizeDir = join(root, 'normalize');
  const splitDir = join(root, 'split');
  await mkdir(splitDir, { recursive: true });
  let seed = 1;
  for (const split of ['train', 'val', 'test'] as const) {
    const lines = ['file,class,lab,group,origin'];
    for (const c of classes) {
      await mkdir(join(normalizeDir, 'cells', c), { recursive: true });
      for (let i = 0; i < perClass[split]; i++) {
        const name = `${split}_${i}.png`;
        await writeFile(join(normalizeDir, 'cells', c, name), await tinyCellPng(c, seed++, options.size));
        lines.push(`normalize/cells/${c}/${name},${c},tiny,${c}-${split}-${i},${c}/${name}`);
      }
    }
    await writeFile(join(splitDir, `${split}.csv`), lines.join('\n') + '\n');
  }
  await writeFile(join(splitDir, 'split.json'), JSON.stringify({ classes }));
  return { normalizeDir, splitDir };
}

export function depsFor(dirs: Record<string, string>) {
  return Object.fromEntries(
    Object.entries(dirs).map(([stageId, dir]) => [stageId, { instanceId: stageId, stageId, matrix: {}, dir, name: stageId, key: 'test-key', created: null, seconds: null }]),
  );
}
