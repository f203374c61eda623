// Services one run shares: paths, hash cache, bundler, store, current state, slots, event sink.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { EventSink } from '../log/events.js';
import { FileHashCache } from '../keys/file-hashes.js';
import { ModuleBundler } from '../keys/module-bundler.js';
import { WorkspacePaths } from '../store/paths.js';
import type { Plan } from '../config/plan.js';
import { CurrentState } from '../store/current-state.js';
import { Store } from '../store/store.js';
import type { Slots } from './slots.js';
import type { RemoteCache } from '../store/remote-cache.js';
import type { SlurmExecutor } from './executor-slurm.js';

export interface RunContext {
  ws: WorkspacePaths;
  plan: Plan;
  hashes: FileHashCache;
  bundler: ModuleBundler;
  store: Store;
  current: CurrentState;
  slots: Slots;
  jobs: number;
  /** GPU devices on this machine (empty: GPU stages run on the CPU). */
  gpus: string[];
  runtime: { node: string; lockfile: string | null };
  emit: EventSink;
  /** .pipe/run-state.json, given to stages as PIPE_RUN_STATE (absent in dry runs). */
  runStateFile?: string;
  /** The shared cache asked before running and given what ran (pipeline.json remoteCache). */
  remote?: RemoteCache;
  /** Set when instances run as Slurm jobs (--executor slurm) instead of local processes. */
  slurm?: SlurmExecutor;
}

export function createServices(root: string) {
  const ws = new WorkspacePaths(root);
  const hashes = FileHashCache.forWorkspace(root);
  const bundler = new ModuleBundler(ws, hashes);
  const store = new Store(ws);
  const current = new CurrentState(ws);
  const lock = join(root, 'package-lock.json');
  const runtime = { node: process.version, lockfile: existsSync(lock) ? hashes.hash(lock, statSync(lock)) : null };
  return { ws, hashes, bundler, store, current, runtime };
}

/** Files under `dir`, as sorted `/`-separated relative paths. */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => !d.isDirectory())
    .map((d) => relative(dir, join(d.parentPath ?? (d as unknown as { path: string }).path, d.name)).split('\\').join('/'))
    .sort();
}

/** The environment a stage process gets: declared variables only, plus what a process needs. */
export function stageEnv(names: string[], gpus: string[] | null): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ', 'USER']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  for (const k of names) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  if (gpus) env.CUDA_VISIBLE_DEVICES = gpus.join(',');
  return env;
}
