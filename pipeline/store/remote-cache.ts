// A shared cache over Bazel's HTTP remote-cache layout, as bazel-remote, nginx/Apache WebDAV and
// other HTTP caches serve it: GET/PUT /ac/<instance key> holds an ActionResult listing the instance's
// files, GET/PUT /cas/<sha256> holds file contents. An instance's AC entry names its manifest
// (pipe/manifest.json), the manifests of its items (pipe/items/<key>.json) and every output file.
// Everything downloaded is checked against its sha256 and size before it enters the store; a remote
// that cannot be reached turns itself off for the rest of the run with one warning.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeActionResult, encodeActionResult, type OutputFile } from './bazel-action-result.js';
import type { EventSink } from '../log/events.js';
import { removeQuietly, tmpSuffix } from './fs-atomic.js';
import type { ItemManifest, Manifest, Store } from './store.js';
import type { WorkspacePaths } from './paths.js';

export interface RemoteCacheConfig {
  /** Base URL of the cache (e.g. http://cache.lab:9090/ for bazel-remote). */
  url: string;
  /** Name of the environment variable holding a bearer token; the token itself is never written. */
  tokenEnv?: string;
  /** Upload what this machine ran (default true); false = read-only. */
  upload?: boolean;
}

const MANIFEST = 'pipe/manifest.json';
const ITEMS = 'pipe/items/';

class Refused extends Error {}

export class RemoteCache {
  private readonly base: string;
  private readonly shown: string;
  private down = false;
  private uploads: Promise<void>[] = [];
  /** Counts for the run's summary line. */
  readonly stats = { restored: 0, uploaded: 0, bytesDown: 0, bytesUp: 0 };

  constructor(private readonly cfg: RemoteCacheConfig, private readonly emit: EventSink) {
    const u = new URL(cfg.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`remoteCache.url must be http(s), got ${cfg.url}`);
    this.base = cfg.url.replace(/\/+$/, '');
    // Never show credentials a user put into the URL itself.
    u.username = '';
    u.password = '';
    this.shown = u.toString().replace(/\/+$/, '');
  }

  get description(): string {
    return this.shown;
  }

  private headers(): Record<string, string> {
    const name = this.cfg.tokenEnv;
    const token = name ? process.env[name] : undefined;
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  /** Requests in flight, over every instance of the run: a whole DAG restoring at once must not flood the server. */
  private active = 0;
  private waiting: (() => void)[] = [];

  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.active >= 8) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  /** One request, its body read whole; undefined (after one warning) when the server cannot be reached. */
  private async request(method: 'GET' | 'PUT' | 'HEAD', path: string, body?: Buffer): Promise<{ status: number; ok: boolean; body: Buffer } | undefined> {
    if (this.down) return undefined;
    try {
      return await this.slot(async () => {
        const r = await fetch(`${this.base}/${path}`, {
          method,
          headers: { ...this.headers(), ...(body ? { 'content-type': 'application/octet-stream' } : {}) },
          ...(body ? { body } : {}),
          signal: AbortSignal.timeout(300_000),
        });
        return { status: r.status, ok: r.ok, body: Buffer.from(await r.arrayBuffer()) };
      });
    } catch (e) {
      // Requests in flight together all fail: the first to land says so, once.
      if (this.down) return undefined;
      this.down = true;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      this.emit({ type: 'warn', message: `remote cache ${this.shown} unreachable (${cause?.code ?? cause?.message ?? (e as Error).message}); running without it` });
      return undefined;
    }
  }

  private async get(path: string): Promise<Buffer | undefined> {
    const r = await this.request('GET', path);
    if (!r) return undefined;
    if (r.status === 404) return undefined;
    if (!r.ok) {
      if (r.status === 401 || r.status === 403) this.disable(`refused the request (HTTP ${r.status}${this.cfg.tokenEnv ? `; is ${this.cfg.tokenEnv} set?` : ''})`);
      else this.emit({ type: 'warn', message: `remote cache: GET ${path} answered HTTP ${r.status}` });
      return undefined;
    }
    this.stats.bytesDown += r.body.length;
    return r.body;
  }

  private disable(why: string) {
    if (this.down) return;
    this.down = true;
    this.emit({ type: 'warn', message: `remote cache ${this.shown} ${why}; running without it` });
  }

  /** A CAS blob, checked against its digest; a mismatch is refused. */
  private async blob(hash: string, size: number, what: string): Promise<Buffer> {
    const buf = await this.get(`cas/${hash}`);
    if (!buf) throw new Refused(`${what} (cas/${hash.slice(0, 12)}…) is missing`);
    const got = createHash('sha256').update(buf).digest('hex');
    if (buf.length !== size || got !== hash) {
      throw new Refused(`${what} (cas/${hash.slice(0, 12)}…) does not match its hash (${buf.length} bytes, expected ${size}): corrupt or truncated`);
    }
    return buf;
  }

  /**
   * Fetches the instance's manifest, item manifests and objects into the local store. Returns the
   * manifest when everything arrived intact; nothing half-fetched is ever referenced by a manifest.
   */
  async restore(ws: WorkspacePaths, store: Store, instanceId: string, key: string): Promise<Manifest | undefined> {
    if (this.down) return undefined;
    const ac = await this.get(`ac/${key}`);
    if (!ac) return undefined;
    const tmp = join(ws.tmpDir, `remote-${tmpSuffix()}`);
    mkdirSync(tmp, { recursive: true });
    try {
      let entries: OutputFile[];
      try {
        entries = decodeActionResult(ac);
      } catch (e) {
        throw new Refused(`ac/${key.slice(0, 12)}… is not an ActionResult (${(e as Error).message})`);
      }
      const mEntry = entries.find((f) => f.path === MANIFEST);
      if (!mEntry) throw new Refused(`ac/${key.slice(0, 12)}… names no ${MANIFEST} (not written by pipe?)`);
      const manifest = JSON.parse((await this.blob(mEntry.hash, mEntry.size, 'the manifest')).toString('utf8')) as Manifest;
      if (manifest.key !== key || manifest.instanceId !== instanceId) throw new Refused(`the manifest under ac/${key.slice(0, 12)}… is for ${manifest.instanceId} ${manifest.key.slice(0, 12)}…`);
      const items: ItemManifest[] = [];
      for (const e of entries.filter((f) => f.path.startsWith(ITEMS))) {
        items.push(JSON.parse((await this.blob(e.hash, e.size, `item manifest ${e.path}`)).toString('utf8')) as ItemManifest);
      }
      const wanted = new Map<string, number>();
      for (const f of [...Object.values(manifest.files), ...items.flatMap((i) => Object.values(i.files))]) {
        if (!store.hasObject(f.hash)) wanted.set(f.hash, f.size);
      }
      const queue = [...wanted];
      const worker = async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const [hash, size] = next;
          const buf = await this.blob(hash, size, `an output of ${instanceId}`);
          const file = join(tmp, hash);
          writeFileSync(file, buf);
          store.putFile(file, hash);
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
      if (this.down) return undefined;
      for (const i of items) store.writeItem(i);
      store.writeManifest(manifest);
      this.stats.restored++;
      return manifest;
    } catch (e) {
      const why = e instanceof Refused ? e.message : `could not restore it (${(e as Error).message})`;
      if (!this.down) this.emit({ type: 'warn', message: `remote cache: refused ${instanceId}: ${why}; running it here` });
      return undefined;
    } finally {
      removeQuietly(tmp);
    }
  }

  /** Queues the upload of a key this machine just published (awaited by `flush`). */
  queueUpload(ws: WorkspacePaths, store: Store, key: string): void {
    if (this.cfg.upload === false || this.down) return;
    const p = this.upload(ws, store, key).catch((e: Error) => {
      this.emit({ type: 'warn', message: `remote cache: upload of ${key.slice(0, 12)}… failed: ${e.message}` });
    });
    this.uploads.push(p);
  }

  async flush(): Promise<void> {
    while (this.uploads.length) await Promise.all(this.uploads.splice(0));
  }

  private async put(path: string, body: Buffer): Promise<void> {
    const r = await this.request('PUT', path, body);
    if (!r) return;
    if (!r.ok) {
      if (r.status === 401 || r.status === 403) this.disable(`refused an upload (HTTP ${r.status}${this.cfg.tokenEnv ? `; is ${this.cfg.tokenEnv} set?` : ''})`);
      else throw new Error(`PUT ${path}: HTTP ${r.status}`);
    }
    this.stats.bytesUp += body.length;
  }

  private async putBlob(hash: string, body: () => Buffer): Promise<void> {
    const head = await this.request('HEAD', `cas/${hash}`);
    if (head?.ok) return;
    await this.put(`cas/${hash}`, body());
  }

  private async upload(ws: WorkspacePaths, store: Store, key: string): Promise<void> {
    const m = store.readManifest(key);
    if (!m) return;
    const entries: OutputFile[] = [];
    const files = new Map<string, number>();
    for (const [rel, f] of Object.entries(m.files)) {
      entries.push({ path: rel, hash: f.hash, size: f.size });
      files.set(f.hash, f.size);
    }
    for (const it of m.items ?? []) {
      const im = store.readItem(it.key);
      if (!im) continue;
      for (const f of Object.values(im.files)) files.set(f.hash, f.size);
      const text = Buffer.from(JSON.stringify(im));
      const h = createHash('sha256').update(text).digest('hex');
      await this.putBlob(h, () => text);
      entries.push({ path: `${ITEMS}${it.key}.json`, hash: h, size: text.length });
    }
    const queue = [...files.keys()];
    const worker = async () => {
      for (let h = queue.shift(); h; h = queue.shift()) {
        const hash = h;
        await this.putBlob(hash, () => readFileSync(ws.object(hash)));
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
    const text = Buffer.from(JSON.stringify(m));
    const mh = createHash('sha256').update(text).digest('hex');
    await this.putBlob(mh, () => text);
    entries.unshift({ path: MANIFEST, hash: mh, size: text.length });
    // The AC entry last: a reader never finds a key whose blobs are not all there yet.
    if (this.down) return;
    await this.put(`ac/${key}`, encodeActionResult(entries));
    if (!this.down) this.stats.uploaded++;
  }
}
