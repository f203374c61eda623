// Content hashes of files, cached by (size, mtime, inode) so a no-op run reads no file contents.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/fs-atomic.js';

type Entry = [size: number, mtimeMs: number, ino: number, hash: string];

export class FileHashCache {
  private entries: Record<string, Entry>;
  private dirty = false;

  constructor(private readonly file: string) {
    try {
      this.entries = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Entry>;
    } catch {
      this.entries = {};
    }
  }

  static forWorkspace(workspace: string): FileHashCache {
    return new FileHashCache(join(workspace, '.pipe', 'file-hashes.json'));
  }

  /** Hash of the file at `path`; `stats` may be passed when the caller already has them. */
  hash(path: string, stats: Stats = statSync(path)): string {
    const e = this.entries[path];
    if (e && e[0] === stats.size && e[1] === stats.mtimeMs && e[2] === stats.ino) return e[3];
    const hash = hashFileContents(path);
    this.entries[path] = [stats.size, stats.mtimeMs, stats.ino, hash];
    this.dirty = true;
    return hash;
  }

  /** Records a hash the caller computed (e.g. while storing the file). */
  remember(path: string, stats: Stats, hash: string): void {
    this.entries[path] = [stats.size, stats.mtimeMs, stats.ino, hash];
    this.dirty = true;
  }

  save(): void {
    if (!this.dirty) return;
    writeFileAtomic(this.file, JSON.stringify(this.entries));
    this.dirty = false;
  }
}

export function hashFileContents(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(n === buf.length ? buf : buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}
