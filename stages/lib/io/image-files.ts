// Image files a user names on the command line (`pipe predict`): files and folders searched recursively, folders of
// class folders for labelled cells, and a digest of a file's bytes to tell one image under two names.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { StageError } from '../../../pipeline/stage-api.js';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp', '.gif']);

/** Image files in `dir`, recursively, sorted; hidden files and folders skipped. */
export async function imagesIn(dir: string, files: string[] = []): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) await imagesIn(path, files);
    else if (IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) files.push(path);
  }
  return files;
}

/** Image files named directly or found (recursively, sorted) in the named folders. */
export async function collectImages(inputs: string[], cwd: string): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const path = resolve(cwd, input);
    if (!existsSync(path)) throw new StageError('no such file or folder', input);
    if (statSync(path).isDirectory()) await imagesIn(path, files);
    else files.push(path);
  }
  if (files.length === 0) throw new StageError(`no images (${[...IMAGE_EXTENSIONS].join(' ')}) found`, inputs.join(' '));
  return files;
}

/**
 * The labelled cells of `--labelled` folders: each folder holds one folder per class, named as the model's
 * classes (any case), with images in it at any depth. A folder named otherwise, or an image outside a class
 * folder, is an error naming it: a misplaced label would teach the head the wrong class.
 */
export async function collectLabelled(folders: readonly string[], classes: readonly string[], cwd: string): Promise<{ file: string; label: number }[]> {
  const out: { file: string; label: number }[] = [];
  for (const folder of folders) {
    const root = resolve(cwd, folder);
    if (!existsSync(root) || !statSync(root).isDirectory()) throw new StageError('not a folder (--labelled wants a folder of class folders)', folder);
    for (const entry of (await readdir(root, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name.startsWith('.')) continue;
      const path = join(root, entry.name);
      if (!entry.isDirectory()) {
        if (IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) throw new StageError(`an image outside a class folder; put it in one of ${classes.join(', ')}`, path);
        continue;
      }
      const label = classes.findIndex((c) => c.toLowerCase() === entry.name.toLowerCase());
      if (label < 0) throw new StageError(`not one of the model's classes (${classes.join(', ')})`, path);
      for (const file of await imagesIn(path)) out.push({ file, label });
    }
  }
  if (out.length === 0) throw new StageError(`no labelled images found (expected class folders: ${classes.join(', ')})`, folders.join(' '));
  return out;
}

/** A file's bytes' SHA-256: the same image under two names is one image. */
export function fileDigest(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}
