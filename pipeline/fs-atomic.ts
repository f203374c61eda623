// Small file-system helpers: every published file appears whole or not at all.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';

export function tmpSuffix(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Writes to a sibling temporary file, then renames it over `file`. */
export function writeFileAtomic(file: string, data: string | Buffer): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${tmpSuffix()}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

export function removeQuietly(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
