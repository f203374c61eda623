// `pipe predict`'s cache of prepared cells: raw image → canonical cell → normalisation costs about 40 ms an
// image, and a lab that passes the same archive with `--adapt-with` every day would pay it for every archived
// image on every call. An entry is keyed by the image's bytes (sha256) under a folder named by the preparation
// settings (the model's cell options and normalisation); the folder it lives in is the command's cache, which the
// runner names by the hash of the command's code, so a change to segmentation or normalisation code never
// reads an older entry. An entry is written whole or not at all (temporary file, then rename), and one that
// cannot be read is prepared again; a cache that cannot be written is only slower.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rawImageToCell, type PreparedCell } from './raw-image-input.js';
import { fileDigest } from '../io/image-files.js';
import type { CellOptions } from './train-record.js';
import type { NormalizeParams } from '../stain/normalize-cell.js';

type Header = Omit<PreparedCell, 'cell'> & { width: number; height: number };

export class PreparedCellCache {
  private readonly dir: string | null;
  private writable = true;
  private readonly digests = new Map<string, string>();
  /** Images read from the cache and prepared anew, in this process. */
  hits = 0;
  misses = 0;

  /** `cacheDir` null: no cache (every image prepared). */
  constructor(cacheDir: string | null, private readonly settings: { cell: CellOptions; normalization: NormalizeParams | null }) {
    const key = createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
    this.dir = cacheDir === null ? null : join(cacheDir, 'prepared-cells', key);
  }

  /** The SHA-256 of a file's bytes, hashed once per call: predict's check for an image given twice reads it too. */
  digest(path: string): string {
    let digest = this.digests.get(path);
    if (digest === undefined) {
      try {
        digest = fileDigest(path);
      } catch (error) {
        throw new Error(`${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
      this.digests.set(path, digest);
    }
    return digest;
  }

  /** The image's normalised canonical cell, from the cache when these bytes were prepared with these settings before. */
  async cell(path: string): Promise<PreparedCell> {
    if (!this.dir) return rawImageToCell(path, this.settings);
    const digest = this.digest(path);
    const entry = join(this.dir, digest.slice(0, 2), `${digest.slice(2)}.cell`);
    const cached = readEntry(entry);
    if (cached) {
      this.hits++;
      return cached;
    }
    const prepared = await rawImageToCell(path, this.settings);
    this.misses++;
    if (this.writable) {
      try {
        writeEntry(entry, prepared);
      } catch {
        this.writable = false; // a read-only workspace or a full disk: go on without the cache
      }
    }
    return prepared;
  }
}

/** [4-byte header length][header JSON][RGB bytes]. */
function writeEntry(file: string, prepared: PreparedCell): void {
  const { cell, ...rest } = prepared;
  const header = Buffer.from(JSON.stringify({ ...rest, width: cell.width, height: cell.height } satisfies Header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  mkdirSync(join(file, '..'), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(tmp, Buffer.concat([length, header, Buffer.from(cell.data.buffer, cell.data.byteOffset, cell.data.byteLength)]));
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

/** The entry, or null when it is missing or not whole. */
function readEntry(file: string): PreparedCell | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return null;
  }
  try {
    const length = bytes.readUInt32LE(0);
    const { width, height, ...rest } = JSON.parse(bytes.subarray(4, 4 + length).toString('utf8')) as Header;
    const data = bytes.subarray(4 + length);
    if (!(width > 0 && height > 0) || data.length !== width * height * 3) return null;
    return { ...rest, cell: { width, height, data: new Uint8Array(data) } };
  } catch {
    return null;
  }
}
