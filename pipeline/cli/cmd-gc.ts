// `pipe gc`: removes store objects, manifests, item records and checkpoint folders that neither the
// current outputs nor the last N runs refer to, and the commands' caches (rebuilt by their next call),
// and reports the bytes freed.
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Parsed } from './args.js';
import { UsageError } from './args.js';
import { CurrentState } from '../store/current-state.js';
import { WorkspacePaths } from '../store/paths.js';
import { Store } from '../store/store.js';
import { acquireLock, pidAlive } from '../store/workspace-lock.js';
import { removeStaleTemporaries } from '../store/fs-atomic.js';

function walk(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => join(d.parentPath ?? (d as unknown as { path: string }).path, d.name));
  } catch {
    return [];
  }
}

function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export interface GcResult {
  objects: number;
  manifests: number;
  items: number;
  checkpoints: number;
  /** Commands' cache folders (one per command and version of its code). */
  caches: number;
  bytes: number;
}

interface RunRecord {
  keys: Record<string, string>;
  /** Failed or cancelled instances: their checkpoint folders are kept for a resume. */
  interrupted?: Record<string, string>;
}

function folderBytes(dir: string): number {
  return walk(dir).reduce((sum, f) => sum + (statSync(f, { throwIfNoEntry: false })?.size ?? 0), 0);
}

export async function collectGarbage(workspace: string, keepRuns: number, dryRun: boolean): Promise<GcResult> {
  const ws = new WorkspacePaths(workspace);
  const store = new Store(ws);
  const keys = new Set<string>(Object.values(new CurrentState(ws).all()).map((e) => e.key));
  const resumable = new Set<string>();
  const runs = walk(ws.runsDir).sort();
  for (const run of keepRuns > 0 ? runs.slice(-keepRuns) : []) {
    try {
      const record = JSON.parse(readFileSync(run, 'utf8')) as RunRecord;
      for (const k of Object.values(record.keys)) keys.add(k);
      for (const k of Object.values(record.interrupted ?? {})) resumable.add(ws.stateDir(k));
    } catch {}
  }
  const liveObjects = new Set<string>();
  const liveItems = new Set<string>();
  for (const k of keys) {
    const m = store.readManifest(k);
    if (!m) continue;
    for (const f of Object.values(m.files)) liveObjects.add(f.hash);
    for (const it of m.items ?? []) liveItems.add(it.key);
  }
  for (const k of liveItems) for (const f of Object.values(store.readItem(k)?.files ?? {})) liveObjects.add(f.hash);
  const result: GcResult = { objects: 0, manifests: 0, items: 0, checkpoints: 0, caches: 0, bytes: 0 };
  const drop = (path: string, kind: keyof Omit<GcResult, 'bytes'>) => {
    result.bytes += statSync(path).size;
    result[kind]++;
    if (!dryRun) rmSync(path, { force: true });
  };
  const keyOfPath = (p: string) => p.split('/').slice(-2).join('').replace(/\.json$/, '');
  for (const p of walk(ws.manifestsDir)) if (!keys.has(keyOfPath(p))) drop(p, 'manifests');
  for (const p of walk(ws.itemsDir)) if (!liveItems.has(keyOfPath(p))) drop(p, 'items');
  for (const p of walk(ws.objectsDir)) if (!liveObjects.has(keyOfPath(p))) drop(p, 'objects');
  // A checkpoint folder only helps a rerun of the same key: one that no kept run left interrupted is stale
  // (a run that succeeded removes its own).
  let stateFolders: string[] = [];
  try {
    stateFolders = readdirSync(ws.stateDirRoot).map((name) => join(ws.stateDirRoot, name));
  } catch {}
  for (const dir of stateFolders) {
    if (resumable.has(dir)) continue;
    result.bytes += folderBytes(dir);
    result.checkpoints++;
    if (!dryRun) rmSync(dir, { recursive: true, force: true });
  }
  // A command's cache only saves it work; the next call rebuilds what it needs.
  let caches: string[] = [];
  try {
    caches = readdirSync(ws.commandCachesDir).flatMap((command) => readdirSync(join(ws.commandCachesDir, command)).map((v) => join(ws.commandCachesDir, command, v)));
  } catch {}
  for (const dir of caches) {
    result.bytes += folderBytes(dir);
    result.caches++;
    if (!dryRun) rmSync(dir, { recursive: true, force: true });
  }
  if (!dryRun) for (const run of runs.slice(0, Math.max(0, runs.length - keepRuns))) rmSync(run, { force: true });
  return result;
}

export async function cmdGc(workspace: string, p: Parsed): Promise<number> {
  const keepRuns = p.flags['keep-runs'] !== undefined ? Number(p.flags['keep-runs']) : 5;
  if (!Number.isInteger(keepRuns) || keepRuns < 0) throw new UsageError('--keep-runs needs a non-negative integer');
  const dry = p.flags['dry-run'] === true;
  const lock = dry ? undefined : await acquireLock(new WorkspacePaths(workspace).lockFile, {
    wait: p.flags['no-wait'] !== true,
    command: 'pipe gc',
    onWait: (h) => process.stderr.write(`waiting for pipe run (pid ${h.pid}) to finish…\n`),
  });
  try {
    if (!dry) {
      // What killed writers left anywhere in the store, item records included (pipe run skips those unless it takes over a dead run's lock).
      const ws = new WorkspacePaths(workspace);
      for (const dir of [ws.pipeDir, ws.manifestsDir, ws.itemsDir, ws.runsDir]) removeStaleTemporaries(dir, pidAlive);
    }
    const r = await collectGarbage(workspace, keepRuns, dry);
    process.stdout.write(
      `${dry ? 'would free' : 'freed'} ${humanBytes(r.bytes)} (${r.bytes} bytes): ${r.objects} objects, ${r.manifests} manifests, ${r.items} item records, ${r.checkpoints} checkpoint folders, ${r.caches} command caches; kept what current outputs and the last ${keepRuns} runs use\n`,
    );
    return 0;
  } finally {
    lock?.release();
  }
}
