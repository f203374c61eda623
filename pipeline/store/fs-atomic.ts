// Small file-system helpers: every published file appears whole or not at all.
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export function tmpSuffix(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Writes to a sibling temporary file, then renames it over `file`. */
export function writeFileAtomic(file: string, data: string | Buffer): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${tmpSuffix()}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    // A full disk (ENOSPC) must not leave the torn temporary file behind; the error names the file.
    rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    if (err.code && !err.message.includes(file)) err.message = `${err.message} (writing ${file})`;
    throw err;
  }
}

/**
 * Temporary files (`<name>.tmp-<pid>-<hex>`) under `dir` whose writer is no longer running: what a
 * killed run, or one that hit a full disk, left. A live writer's (a concurrent `pipe status`) are kept.
 */
export function removeStaleTemporaries(dir: string, alive: (pid: number) => boolean): string[] {
  const removed: string[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path);
      else {
        const m = /\.(?:tmp|new)-(\d+)-[0-9a-f]+$/.exec(e.name);
        if (m && !alive(Number(m[1]))) {
          rmSync(path, { force: true });
          removed.push(path);
        }
      }
    }
  };
  walk(dir);
  return removed;
}

export function removeQuietly(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
