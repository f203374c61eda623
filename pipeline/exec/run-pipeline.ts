// The programmatic API: `runPipeline(options, sink, signal)` plans, then walks the instance graph,
// running independent instances in parallel. `pipe run`, `pipe status` and `pipe watch` build on it.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { loadConfig } from '../config/config-load.js';
import type { EventSink, Outcome, PipeEvent } from '../log/events.js';
import { PipelineError } from '../config/errors.js';
import { removeQuietly, removeStaleTemporaries, writeFileAtomic } from '../store/fs-atomic.js';
import { detectGpus } from './gpus.js';
import type { FinishedInstance } from '../keys/inputs.js';
import { resolveKey, type ResolvedKey } from '../keys/instance-key.js';
import { decideBuild, type BuildDecision } from './build-decision.js';
import type { KeyFields } from '../keys/keys.js';
import { checkParamsUpFront } from '../config/params-check.js';
import { buildPlan, selectTargets, type Instance, type Plan } from '../config/plan.js';
import { createServices, type RunContext } from './run-context.js';
import { WorkspacePaths } from '../store/paths.js';
import { runPerItem, runWhole, type Cancellable } from './run-instance.js';
import { Slots } from './slots.js';
import { criticalPathPriorities } from './critical-path.js';
import { RunStateWriter } from './run-state.js';
import { StageFailure } from '../host/stage-process.js';
import { acquireLock, pidAlive, type LockHandle } from '../store/workspace-lock.js';
import { remoteCacheFor } from '../store/remote-cache-setup.js';
import { slurmExecutorFor } from './executor-setup.js';
import { usageFigures } from '../host/process-usage.js';

export interface RunOptions {
  /** Folder holding pipeline.json. */
  workspace: string;
  /** Stage ids, instance ids or selectors (`train[arch=vgg16]`); empty = everything. */
  targets?: string[];
  /** Report what would run, and why, without running or writing anything. */
  dryRun?: boolean;
  /** Stage or instance ids to run even when up to date. */
  force?: string[];
  jobs?: number;
  keepGoing?: boolean;
  set?: string[];
  profile?: string;
  /** GPU device ids; when omitted, `nvidia-smi -L` is asked (only if some stage wants a GPU). */
  gpus?: string[];
  /** Wait for another run holding the workspace (default) or fail at once. */
  wait?: boolean;
  /** Shown to a second run waiting for the lock. */
  commandLine?: string;
  /** Where instances run (default: pipeline.json's executor.default, else local). */
  executor?: 'local' | 'slurm';
  /** A remote-cache URL replacing pipeline.json's remoteCache.url; false = no remote cache. */
  remoteCache?: string | false;
}

export interface InstanceResult {
  outcome: Outcome | 'would-run' | 'would-restore';
  key?: string;
  detail?: string;
  /** The key's fields, when the key could be computed (for `pipe explain`). */
  fields?: KeyFields;
}

export interface RunResult {
  ok: boolean;
  plan: Plan;
  results: Map<string, InstanceResult>;
}

/** A started run; `cancel(id)` kills that instance's processes and publishes nothing for it. */
export interface RunHandle {
  done: Promise<RunResult>;
  cancel(instanceId: string): void;
  cancelAll(): void;
}

export function startRun(options: RunOptions, sink: EventSink): RunHandle {
  const cancels = new Map<string, Cancellable>();
  let stopAll = false;
  // Cancels the wait for the workspace lock too: a run cancelled while it waits runs nothing.
  const waiting = new AbortController();
  const handle: RunHandle = {
    done: execute(options, sink, cancels, () => stopAll, waiting.signal),
    cancel(id) {
      const c = cancels.get(id);
      if (!c) return;
      c.cancelled = true;
      for (const p of c.processes) p.cancel();
    },
    cancelAll() {
      stopAll = true;
      waiting.abort();
      for (const id of cancels.keys()) handle.cancel(id);
    },
  };
  return handle;
}

export function runPipeline(options: RunOptions, sink: EventSink, signal?: AbortSignal): Promise<RunResult> {
  const h = startRun(options, sink);
  signal?.addEventListener('abort', () => h.cancelAll(), { once: true });
  return h.done;
}

async function execute(options: RunOptions, emitTo: EventSink, cancels: Map<string, Cancellable>, stopped: () => boolean, lockSignal: AbortSignal): Promise<RunResult> {
  const t0 = Date.now();
  const emit = emitTo;
  const loaded = await loadConfig(options.workspace);
  const plan = buildPlan(loaded, { ...(options.profile !== undefined ? { profile: options.profile } : {}), set: options.set ?? [] });
  const selected = selectTargets(plan, options.targets ?? []);
  const dry = options.dryRun === true;
  const ws = new WorkspacePaths(options.workspace);

  let lock: LockHandle | undefined;
  if (!dry) {
    let tookOver = false;
    lock = await acquireLock(ws.lockFile, {
      wait: options.wait !== false,
      command: options.commandLine ?? 'pipe run',
      signal: lockSignal,
      onWait: (h) => emit({ type: 'info', message: `waiting for another pipe run (pid ${h.pid}, since ${h.since}) to finish… (if no such run is left, remove ${ws.lockFile})` }),
      onTakeover: (h) => {
        tookOver = true;
        emit({ type: 'warn', message: `took over the lock of pipe run pid ${h.pid}, which is gone (killed?); its unfinished instances will rerun` });
      },
    });
    removeQuietly(ws.tmpDir);
    // Temporary files a killed writer left beside the files it was replacing. The item records (one file
    // per item ever run: listing 300,000 of them took 0.3–1.3 s of every run) are written by the
    // runner alone, under this lock, so only a run that took over a dead run's lock can find any there
    // (a write that fails removes its own); `pipe gc` sweeps them too.
    for (const dir of [ws.pipeDir, ws.manifestsDir, ws.runsDir, ...(tookOver ? [ws.itemsDir] : [])]) removeStaleTemporaries(dir, pidAlive);
    mkdirSync(ws.tmpDir, { recursive: true });
  }
  try {
    return await executeLocked(options, emitTo, cancels, stopped, { t0, plan, selected, ws, dry });
  } finally {
    lock?.release();
  }
}

async function executeLocked(
  options: RunOptions,
  emitTo: EventSink,
  cancels: Map<string, Cancellable>,
  stopped: () => boolean,
  { t0, plan, selected, ws, dry }: { t0: number; plan: Plan; selected: Instance[]; ws: WorkspacePaths; dry: boolean },
): Promise<RunResult> {
  let emit = emitTo;
  // Read the state only once the lock is held: a run we waited for has just changed it.
  const services = createServices(options.workspace);
  try {
    await checkParamsUpFront(services, plan, selected);
  } finally {
    services.bundler.save();
  }

  const slurm = dry ? undefined : slurmExecutorFor(plan.loaded.config, options.executor, ws, emitTo);
  const jobs = Math.max(1, options.jobs ?? slurm?.maxJobs ?? availableParallelism());
  const wantsGpu = selected.some((i) => i.resources.gpu > 0);
  // On Slurm the cluster hands out GPUs (--gres); this machine's devices do not matter.
  const gpus = slurm ? [] : (options.gpus ?? (wantsGpu ? detectGpus() : []));
  const runState = dry ? undefined : new RunStateWriter(ws.pipeDir, selected, options.profile);
  const sink: EventSink = runState ? (e) => (runState.onEvent(e), emitTo(e)) : emitTo;
  const remote = dry ? undefined : remoteCacheFor(plan.loaded.config, options.remoteCache, sink);
  const rc: RunContext = { ...services, plan, slots: new Slots(jobs, gpus), jobs, gpus, emit: sink, ...(runState ? { runStateFile: runState.file } : {}), ...(remote ? { remote } : {}), ...(slurm ? { slurm } : {}) };
  emit = sink;
  emit({ type: 'run-start', instances: selected.length, jobs, gpus });
  if (slurm) emit({ type: 'info', message: `executor: slurm (up to ${jobs} jobs at once; job folders and logs under .pipe/slurm/)` });
  if (wantsGpu && gpus.length === 0 && !slurm) {
    emit({ type: 'info', message: `no GPU found (nvidia-smi -L lists none; --gpus overrides): ${selected.filter((i) => i.resources.gpu > 0).length} instance(s) asking for a GPU run on the CPU backend` });
  }

  const results = new Map<string, InstanceResult>();
  const finished = new Map<string, FinishedInstance>();
  const force = new Set(options.force ?? []);
  const forced = (inst: Instance) => force.has(inst.id) || force.has(inst.stage.id);
  let failed = false;
  const tasks = new Map<string, Promise<InstanceResult>>();
  let stageCpuMs = 0;

  const finishedOf = (id: string): FinishedInstance => {
    const f = finished.get(id);
    if (f) return f;
    // Not selected in this run: use what is published, if current.
    const e = rc.current.get(id);
    if (!e) throw new PipelineError(`${id} has no outputs yet; run it first (pipe run ${id})`);
    return { key: e.key, hashes: e.hashes };
  };

  // Worked out when the first instance needs a slot, so a run with nothing to do reads no manifests.
  let priorityMap: Map<string, number> | null = null;
  const priorities = () =>
    (priorityMap ??= criticalPathPriorities(selected, (id) => {
      const key = rc.current.get(id)?.key;
      const last = key ? rc.store.provenance(key) : undefined;
      return last ? last.durationMs / 1000 : undefined;
    }));

  const runOne = async (inst: Instance): Promise<InstanceResult> => {
    const depResults = await Promise.all(inst.deps.map((d) => tasks.get(d) ?? Promise.resolve<InstanceResult>({ outcome: 'up-to-date' })));
    let started = Date.now();
    const done = (r: InstanceResult, extra: Partial<Extract<PipeEvent, { type: 'instance-done' }>> = {}): InstanceResult => {
      results.set(inst.id, r);
      if (extra.cpuMs !== undefined) stageCpuMs += extra.cpuMs;
      if (r.outcome !== 'would-run' && r.outcome !== 'would-restore') {
        emit({ type: 'instance-done', id: inst.id, outcome: r.outcome, ms: Date.now() - started, ...(r.detail ? { detail: r.detail } : {}), ...extra });
      }
      return r;
    };
    const badDep = inst.deps.find((_, k) => ['failed', 'skipped', 'cancelled'].includes(depResults[k]!.outcome));
    if (badDep) return done({ outcome: 'skipped', detail: `dependency ${badDep} did not finish` });
    // A dry run reports every instance, whatever an earlier one would do.
    const halted = () => (failed && !options.keepGoing && !dry) || stopped();
    const haltedDetail = () => (stopped() ? 'run cancelled' : 'an earlier instance failed');
    if (halted()) return done({ outcome: 'skipped', detail: haltedDetail() });
    const pendingDep = inst.deps.find((_, k) => depResults[k]!.outcome === 'would-run');
    if (dry && pendingDep) return { outcome: 'would-run', detail: `dependency ${pendingDep} will run` };

    let rk: ResolvedKey;
    try {
      rk = await resolveKey(rc, inst, finishedOf);
    } catch (e) {
      failed = true;
      return done({ outcome: 'failed', detail: (e as Error).message });
    }
    for (const message of rk.rejected) emit({ type: 'warn', message });
    const accept = (r: InstanceResult, extra: Partial<Extract<PipeEvent, { type: 'instance-done' }>> = {}) => {
      const e = rc.current.get(inst.id);
      if (e && e.key === rk.key) finished.set(inst.id, { key: rk.key, hashes: e.hashes });
      return done(r, extra);
    };
    /** What a dry run says: up to date, would restore (its files then stand in for its dependents' keys), would run. */
    const reportDecision = (decision: BuildDecision, rk: ResolvedKey): InstanceResult => {
      if (decision.kind === 'up-to-date') return accept({ outcome: 'up-to-date', key: rk.key, fields: rk.fields });
      if (decision.kind === 'restore') {
        finished.set(inst.id, { key: rk.key, hashes: Object.fromEntries(Object.entries(decision.files).map(([r, f]) => [r, f.hash])) });
        return { outcome: 'would-restore', key: rk.key, detail: decision.why, fields: rk.fields };
      }
      // A dry run never fetches: what the remote cache holds is known only by asking it.
      return { outcome: 'would-run', key: rk.key, detail: decision.reason, fields: rk.fields };
    };
    const decision = decideBuild(rc, inst.id, rk, forced(inst));
    // The one place the dry run parts from the real one: it reports the decision instead of carrying it out.
    if (dry) return reportDecision(decision, rk);
    if (decision.kind === 'up-to-date') return accept({ outcome: 'up-to-date', key: rk.key, fields: rk.fields });
    if (decision.kind === 'restore') {
      rc.current.materialize(rc.store, inst.id, rk.key, decision.files, inst.publish);
      rc.current.save();
      return accept({ outcome: 'restored', key: rk.key, detail: decision.why });
    }
    const reason = decision.reason;
    if (decision.kind === 'fetch-or-run') {
      const fetched = await rc.remote!.restore(rc.ws, rc.store, inst.id, rk.key);
      if (fetched) {
        rc.current.materialize(rc.store, inst.id, rk.key, fetched.files, inst.publish);
        rc.current.save();
        return accept({ outcome: 'restored', key: rk.key, detail: `from the remote cache ${rc.remote!.description}` });
      }
    }

    const grant = await rc.slots.acquire(inst.resources.cpu, inst.resources.gpu, priorities().get(inst.id) ?? 0);
    // What failed while this one waited for a slot stops it before it starts (without --keep-going).
    if (failed && !options.keepGoing) {
      grant.release();
      return done({ outcome: 'skipped', detail: haltedDetail() });
    }
    started = Date.now(); // the time shown is the instance's own, not its wait for a free slot
    const c: Cancellable = { cancelled: stopped(), processes: new Set() };
    cancels.set(inst.id, c);
    try {
      if (stopped()) return done({ outcome: 'cancelled' });
      emit({ type: 'instance-start', id: inst.id, reason });
      const info = inst.stage.perItem ? await runPerItem(rc, inst, rk, grant, c) : await runWhole(rc, inst, rk, grant, c);
      rc.remote?.queueUpload(rc.ws, rc.store, rk.key);
      return accept({ outcome: 'ran', key: rk.key, detail: reason }, { ...(info.items ? { items: info.items } : {}), ...(info.usage ? usageFigures(info.usage) : {}) });
    } catch (e) {
      if (c.cancelled) return done({ outcome: 'cancelled', key: rk.key });
      failed = true;
      const err = e as NodeJS.ErrnoException;
      const code = e instanceof StageFailure && e.exitCode !== undefined ? ` (exit code ${e.exitCode})` : '';
      // A file-system error (ENOSPC, EACCES…) is the user's to fix: its message and path, not a stack.
      const clean = err instanceof PipelineError || err instanceof StageFailure || typeof err.code === 'string';
      return done({ outcome: 'failed', key: rk.key, detail: `${clean ? err.message : err.stack ?? err.message}${code}` });
    } finally {
      grant.release();
      cancels.delete(inst.id);
    }
  };

  let saveFailed = false;
  try {
    for (const inst of selected) {
      tasks.set(
        inst.id,
        runOne(inst).then((r) => {
          results.set(inst.id, r);
          return r;
        }),
      );
    }
    await Promise.all(tasks.values());
    await rc.remote?.flush();
  } finally {
    await rc.slurm?.shutdown();
    // Saving caches and the run record can hit the same full disk: say so, and still end with the summary.
    const trySave = (what: string, save: () => void) => {
      try {
        save();
      } catch (e) {
        saveFailed = true;
        emit({ type: 'warn', message: `could not save ${what}: ${(e as Error).message}` });
      }
    };
    trySave('the file-hash cache', () => rc.hashes.save());
    trySave('the bundle index', () => rc.bundler.save());
    // A run that changed something is recorded, so `pipe gc` keeps what recent runs produced.
    if (!dry && [...results.values()].some((r) => r.outcome !== 'up-to-date')) {
      const keys: Record<string, string> = {};
      // Failed or cancelled instances may leave a checkpoint to resume from; gc keeps those of recent runs.
      const interrupted: Record<string, string> = {};
      for (const [id, r] of results) {
        if (!r.key) continue;
        if (r.outcome === 'failed' || r.outcome === 'cancelled') interrupted[id] = r.key;
        else keys[id] = r.key;
      }
      trySave('the run record', () => writeFileAtomic(join(rc.ws.runsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.json`), JSON.stringify({ at: new Date().toISOString(), profile: options.profile ?? null, set: options.set ?? [], keys, interrupted })));
    }
  }
  const counts = { 'up-to-date': 0, restored: 0, ran: 0, failed: 0, skipped: 0, cancelled: 0 } as Record<Outcome, number>;
  for (const r of results.values()) if (r.outcome in counts) counts[r.outcome as Outcome]++;
  const ok = counts.failed === 0 && counts.skipped === 0 && counts.cancelled === 0 && !saveFailed;
  emit({ type: 'run-done', ok, ms: Date.now() - t0, counts, ...(stageCpuMs > 0 ? { cpuMs: stageCpuMs } : {}) });
  return { ok, plan, results };
}
