// Helpers shared by the data stages for writing an item's outputs all-or-nothing and naming them.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** `<parent dir name>`, `<file name without extension>` of a relative path like `data/x/CLASS/a.jpg`. */
export function classAndStem(rel: string): { className: string; stem: string } {
  const parts = rel.split(/[\\/]/);
  const name = parts[parts.length - 1] ?? rel;
  const dot = name.lastIndexOf('.');
  return { className: parts[parts.length - 2] ?? '', stem: dot > 0 ? name.slice(0, dot) : name };
}

/** Top folders of the data stages' layouts (not lab names). */
const LAYOUT_ROOTS = new Set(['images', 'cells', 'masks', 'variants', 'records']);

/**
 * `<lab>/<CLASS>/<stem>` of an image laid out as `images|cells|masks|variants/<lab>/<CLASS>/<name>`: the
 * name its cell, mask and variants keep in every stage, so two labs' files of the same name never meet.
 */
export function cellKey(rel: string): { lab: string; className: string; stem: string; key: string } {
  const parts = rel.split(/[\\/]/);
  if (LAYOUT_ROOTS.has(parts[0] ?? '')) parts.shift();
  const { className, stem } = classAndStem(rel);
  const lab = parts[parts.length - 3] ?? '';
  return { lab, className, stem, key: lab ? `${lab}/${className}/${stem}` : `${className}/${stem}` };
}

/**
 * Writes every file of one item, or none: each goes to a temporary name first and is renamed only
 * once all of them were written, so a crash never leaves a cell without its record.
 */
export async function writeAllOrNothing(root: string, files: Record<string, Buffer | string>): Promise<void> {
  const staged: Array<[string, string]> = [];
  try {
    for (const [rel, content] of Object.entries(files)) {
      const final = path.join(root, rel);
      const temp = `${final}.partial-${process.pid}`;
      await mkdir(path.dirname(final), { recursive: true });
      await writeFile(temp, content);
      staged.push([temp, final]);
    }
    for (const [temp, final] of staged) await rename(temp, final);
  } catch (e) {
    await Promise.all(staged.map(([temp]) => rm(temp, { force: true })));
    throw e;
  }
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
