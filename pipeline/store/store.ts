// The content-addressed store under artifacts/: objects/ (files by sha256), manifests/ (one per
// instance key: which files, with which hashes, and the key's fields for `pipe explain`), items/ (one
// per item key of a per-item stage) and stages/<instance>/ (the current outputs, plain copies).
import { copyFileSync, constants, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { hashFileContents } from '../keys/file-hashes.js';
import { tmpSuffix, writeFileAtomic } from './fs-atomic.js';
import type { KeyFields } from '../keys/keys.js';
import type { WorkspacePaths } from './paths.js';

export interface FileEntry {
  hash: string;
  size: number;
}

export interface ItemRecord {
  /** Producing instance of the item's input file ('' for a workspace file). */
  from: string;
  rel: string;
  key: string;
}

export interface Manifest {
  version: 1;
  key: string;
  instanceId: string;
  createdAt: string;
  durationMs: number;
  /** CPU time of the stage processes that built it (user + system, all its processes), where they said. */
  cpuMs?: number;
  /** Peak resident memory of its largest stage process. */
  maxRssMb?: number;
  fields: KeyFields;
  files: Record<string, FileEntry>;
  /** Per-item stages: the item keys this instance is made of. */
  items?: ItemRecord[];
}

export interface ItemManifest {
  version: 1;
  key: string;
  rel: string;
  files: Record<string, FileEntry>;
}

export class Store {
  constructor(readonly ws: WorkspacePaths) {}

  /** Moves (or links) a finished file into objects/ and returns its entry. */
  putFile(path: string, knownHash?: string): FileEntry {
    const st = statSync(path);
    const hash = knownHash ?? hashFileContents(path);
    const obj = this.ws.object(hash);
    if (!existsSync(obj)) {
      mkdirSync(dirname(obj), { recursive: true });
      try {
        renameSync(path, obj);
      } catch {
        // Another file system: copy aside and rename, so a full disk never leaves a torn object.
        const tmp = `${obj}.tmp-${tmpSuffix()}`;
        try {
          copyFileSync(path, tmp);
          renameSync(tmp, obj);
        } catch (e) {
          rmSync(tmp, { force: true });
          throw e;
        }
      }
    }
    return { hash, size: st.size };
  }

  hasObject(hash: string): boolean {
    return existsSync(this.ws.object(hash));
  }

  /** A private copy of an object (copy-on-write clone where the file system can). */
  copyObject(hash: string, dest: string): void {
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(this.ws.object(hash), dest, constants.COPYFILE_FICLONE);
  }

  /** Removes an object whose content can no longer be trusted; manifests naming it become incomplete. */
  dropObject(hash: string): void {
    rmSync(this.ws.object(hash), { force: true });
  }

  /** A hard link to an object, for read-only use inside temporary folders. */
  linkObject(hash: string, dest: string): void {
    mkdirSync(dirname(dest), { recursive: true });
    try {
      linkSync(this.ws.object(hash), dest);
    } catch {
      this.copyObject(hash, dest);
    }
  }

  readManifest(key: string): Manifest | undefined {
    try {
      return JSON.parse(readFileSync(this.ws.manifest(key), 'utf8')) as Manifest;
    } catch {
      return undefined;
    }
  }

  /**
   * When the outputs under a key were built and how long that took, parsed once per key: a key's manifest
   * never changes once written, and a per-item stage's runs to megabytes, read by every instance after it.
   */
  provenance(key: string): { createdAt: string; durationMs: number } | undefined {
    if (!this.provenanceByKey.has(key)) {
      const m = this.readManifest(key);
      this.provenanceByKey.set(key, m ? { createdAt: m.createdAt, durationMs: m.durationMs } : undefined);
    }
    return this.provenanceByKey.get(key);
  }

  private readonly provenanceByKey = new Map<string, { createdAt: string; durationMs: number } | undefined>();

  /** A manifest is usable only when all its objects are still there (gc or a hand may remove them). */
  complete(files: Record<string, FileEntry>): boolean {
    return Object.values(files).every((f) => this.hasObject(f.hash));
  }

  writeManifest(m: Manifest): void {
    writeFileAtomic(this.ws.manifest(m.key), JSON.stringify(m));
    this.provenanceByKey.delete(m.key); // a forced rebuild under the same key
  }

  readItem(key: string): ItemManifest | undefined {
    try {
      return JSON.parse(readFileSync(this.ws.itemManifest(key), 'utf8')) as ItemManifest;
    } catch {
      return undefined;
    }
  }

  writeItem(m: ItemManifest): void {
    writeFileAtomic(this.ws.itemManifest(m.key), JSON.stringify(m));
  }
}
