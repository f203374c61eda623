// What is laid out in artifacts/stages/<instance>/ right now: the key it holds and each file's
// (size, mtime, inode) when the runner wrote it. A file whose stats changed is re-hashed; a hand edit,
// a deletion or an extra file is detected and the folder restored from the store.
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, linkSync, cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hashFileContents } from '../keys/file-hashes.js';
import { removeQuietly, tmpSuffix, writeFileAtomic } from './fs-atomic.js';
import type { WorkspacePaths } from './paths.js';
import type { FileEntry, Store } from './store.js';

type Stat3 = [size: number, mtimeMs: number, ino: number];

export interface CurrentEntry {
  key: string;
  files: Record<string, Stat3>;
  /** Hashes of the files (mirrors the manifest, so verification needs no manifest read). */
  hashes: Record<string, string>;
  publish?: string;
}

export class CurrentState {
  private entries: Record<string, CurrentEntry>;

  constructor(private readonly ws: WorkspacePaths) {
    try {
      this.entries = JSON.parse(readFileSync(ws.currentFile, 'utf8')) as Record<string, CurrentEntry>;
    } catch {
      this.entries = {};
    }
  }

  get(id: string): CurrentEntry | undefined {
    return this.entries[id];
  }

  all(): Record<string, CurrentEntry> {
    return this.entries;
  }

  delete(id: string): void {
    delete this.entries[id];
  }

  save(): void {
    writeFileAtomic(this.ws.currentFile, JSON.stringify(this.entries));
  }

  /**
   * Whether artifacts/stages/<id>/ holds exactly the files of `key`, unmodified. Returns a reason
   * when it does not ("REPORT.md was edited", "missing x", "extra file y").
   */
  verify(id: string, key: string): { ok: true } | { ok: false; reason: string } {
    const e = this.entries[id];
    if (!e || e.key !== key) return { ok: false, reason: 'not current' };
    const dir = this.ws.instanceDir(id);
    for (const [rel, [size, mtime, ino]] of Object.entries(e.files)) {
      let st;
      try {
        st = statSync(join(dir, rel));
      } catch {
        return { ok: false, reason: `output ${rel} was deleted` };
      }
      if (st.size === size && st.mtimeMs === mtime && st.ino === ino) continue;
      if (hashFileContents(join(dir, rel)) !== e.hashes[rel]) return { ok: false, reason: `output ${rel} was edited` };
      e.files[rel] = [st.size, st.mtimeMs, st.ino];
    }
    let count = 0;
    try {
      for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) if (!d.isDirectory()) count++;
    } catch {
      return { ok: false, reason: 'output folder was deleted' };
    }
    if (count !== Object.keys(e.files).length) return { ok: false, reason: `output folder has files the store does not know` };
    return { ok: true };
  }

  /**
   * Lays out `files` as artifacts/stages/<id>/: builds the folder aside (reusing unchanged files of
   * the current one by hard link), then swaps it in with renames.
   */
  materialize(store: Store, id: string, key: string, files: Record<string, FileEntry>, publish?: string): void {
    const dir = this.ws.instanceDir(id);
    const prev = this.entries[id];
    const build = join(this.ws.tmpDir, `stage-${tmpSuffix()}`);
    mkdirSync(build, { recursive: true });
    const stats: Record<string, Stat3> = {};
    const hashes: Record<string, string> = {};
    for (const [rel, f] of Object.entries(files)) {
      const dest = join(build, rel);
      let reused = false;
      const old = prev?.files[rel];
      if (old && prev.hashes[rel] === f.hash) {
        try {
          const st = statSync(join(dir, rel));
          if (st.size === old[0] && st.mtimeMs === old[1] && st.ino === old[2]) {
            mkdirSync(dirname(dest), { recursive: true });
            linkSync(join(dir, rel), dest);
            reused = true;
          }
        } catch {}
      }
      if (!reused) store.copyObject(f.hash, dest);
      const st = statSync(dest);
      stats[rel] = [st.size, st.mtimeMs, st.ino];
      hashes[rel] = f.hash;
    }
    mkdirSync(dirname(dir), { recursive: true });
    const trash = join(this.ws.tmpDir, `old-${tmpSuffix()}`);
    try {
      renameSync(dir, trash);
    } catch {}
    renameSync(build, dir);
    removeQuietly(trash);
    this.entries[id] = { key, files: stats, hashes, ...(publish ? { publish } : {}) };
    if (publish) {
      const target = join(this.ws.root, publish);
      removeQuietly(target);
      mkdirSync(dirname(target), { recursive: true });
      cpSync(dir, target, { recursive: true });
    } else if (prev?.publish) removeQuietly(join(this.ws.root, prev.publish));
  }
}
