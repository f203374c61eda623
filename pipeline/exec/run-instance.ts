// Executes one instance whose key is not current and not in the run-cache: a whole stage (module or
// shell command) in one stage process, or a per-item stage over its new items in up to -j processes.
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PipelineError } from '../config/errors.js';
import { interpolateString } from '../config/interpolate.js';
import { removeQuietly, tmpSuffix } from '../store/fs-atomic.js';
import type { ResolvedKey } from '../keys/instance-key.js';
import type { ContextData, Job } from '../host/ipc.js';
import { itemName } from '../keys/keys.js';
import type { Instance } from '../config/plan.js';
import { publishInstance, storeFolder } from '../store/publish.js';
import { stageEnv, type RunContext } from './run-context.js';
import type { Grant } from './slots.js';
import type { DepOutput, InputFile, ItemOutputs, WorkItem } from '../stage-api.js';
import { StageProcess, StageFailure } from '../host/stage-process.js';
import type { HostProcess } from '../host/host-process.js';
import { jobSpecOf } from './executor-slurm.js';
import type { FileEntry, ItemRecord } from '../store/store.js';
import { sumUsage, type ProcessUsage } from '../host/process-usage.js';

export interface Cancellable {
  cancelled: boolean;
  processes: Set<HostProcess>;
}

export interface RanInfo {
  items?: { ran: number; cached: number; removed: number; unwanted?: number };
  /** CPU and peak memory of the instance's stage processes (the runner's own work not included). */
  usage?: ProcessUsage;
}

function contextData(rc: RunContext, inst: Instance, rk: ResolvedKey, outDir: string, gpus: string[], cpu: number): ContextData {
  const deps: Record<string, DepOutput> = {};
  const nameOf = new Map<string, string>();
  for (const [name, declared] of Object.entries(inst.declaredDeps)) for (const id of declared.instances) if (!nameOf.has(id)) nameOf.set(id, name);
  for (const d of inst.deps) {
    const dep = rc.plan.instances.get(d)!;
    const key = rk.depKeys[d] ?? '';
    // Provenance from the store, so stages that report on the study need not read the runner's files.
    const built = key ? rc.store.provenance(key) : undefined;
    deps[d] = {
      instanceId: d,
      stageId: dep.stage.id,
      matrix: dep.matrix,
      dir: rc.ws.instanceDir(d),
      name: nameOf.get(d) ?? dep.stage.id,
      key,
      created: built?.createdAt ?? null,
      seconds: built ? built.durationMs / 1000 : null,
    };
  }
  const stateDir = rc.ws.stateDir(rk.key);
  mkdirSync(stateDir, { recursive: true });
  return {
    instanceId: inst.id,
    stageId: inst.stage.id,
    matrix: inst.matrix,
    params: inst.params,
    workspace: rc.ws.root,
    outDir,
    stateDir,
    inputs: rk.inputs,
    deps,
    declaredDeps: inst.declaredDeps,
    resources: { gpu: gpus, cpu },
    ...(rc.runStateFile ? { runStateFile: rc.runStateFile } : {}),
  };
}

function spawnHost(rc: RunContext, inst: Instance, gpus: string[], c: Cancellable, onProgress?: (done: number, total: number, label?: string) => void): HostProcess {
  if (c.cancelled) throw new StageFailure('cancelled');
  const wantsGpu = inst.resources.gpu > 0;
  // On Slurm the devices are the job's (--gres); the job sets CUDA_VISIBLE_DEVICES itself.
  const env = stageEnv(inst.env, !rc.slurm && (wantsGpu || rc.gpus.length > 0) ? gpus : null);
  if (rc.runStateFile) env.PIPE_RUN_STATE = rc.runStateFile;
  const cb = {
    log: (level: 'log' | 'warn', message: string) => rc.emit({ type: 'instance-log', id: inst.id, level, message }),
    progress: (done: number, total: number, label?: string) =>
      onProgress ? onProgress(done, total, label) : rc.emit({ type: 'instance-progress', id: inst.id, done, total, ...(label !== undefined ? { label } : {}) }),
  };
  const proc = rc.slurm ? rc.slurm.spawn(env, cb, jobSpecOf(inst)) : new StageProcess(env, rc.ws.root, cb);
  c.processes.add(proc);
  return proc;
}

export async function runWhole(rc: RunContext, inst: Instance, rk: ResolvedKey, grant: Grant, c: Cancellable): Promise<RanInfo> {
  const started = Date.now();
  const tmp = join(rc.ws.tmpDir, `${inst.id.replace(/[^A-Za-z0-9_.=-]+/g, '_')}-${tmpSuffix()}`);
  const outDir = join(tmp, 'out');
  mkdirSync(outDir, { recursive: true });
  const ctx = contextData(rc, inst, rk, outDir, grant.gpus, grant.cpu);
  const proc = spawnHost(rc, inst, grant.gpus, c);
  let usage: ProcessUsage | undefined;
  try {
    let job: Job;
    if (inst.stage.module) job = { kind: 'whole', bundle: rk.bundle!, ctx };
    else {
      const inputsFile = join(tmp, 'inputs.txt');
      writeFileSync(inputsFile, rk.inputs.map((f) => f.path).join('\n') + (rk.inputs.length ? '\n' : ''));
      const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
      job = { kind: 'shell', command: interpolateString(inst.stage.command!, { params: inst.params, matrix: inst.matrixRaw }, quote), ctx, inputsFile };
    }
    await proc.run(job);
    usage = proc.usage;
  } finally {
    proc.close();
    c.processes.delete(proc);
  }
  if (c.cancelled) throw new StageFailure('cancelled');
  const files = storeFolder(rc, inst, outDir);
  publishInstance(rc, inst, rk.key, rk.fields, files, started, undefined, usage);
  removeQuietly(ctx.stateDir);
  removeQuietly(tmp);
  return usage ? { usage } : {};
}

export async function runPerItem(rc: RunContext, inst: Instance, rk: ResolvedKey, grant: Grant, c: Cancellable): Promise<RanInfo> {
  const started = Date.now();
  const tmp = join(rc.ws.tmpDir, `${inst.id.replace(/[^A-Za-z0-9_.=-]+/g, '_')}-${tmpSuffix()}`);
  const outDir = join(tmp, 'out');
  mkdirSync(outDir, { recursive: true });
  const itemKeys = rk.itemKeys!;
  const itemFiles: (Record<string, FileEntry> | undefined)[] = itemKeys.map((k) => {
    const m = rc.store.readItem(k);
    return m && rc.store.complete(m.files) ? m.files : undefined;
  });
  const todo = rk.inputs.map((input, i) => ({ input, i })).filter(({ i }) => !itemFiles[i]);
  const prevEntry = rc.current.get(inst.id);
  const prevItems = prevEntry ? rc.store.readManifest(prevEntry.key)?.items : undefined;
  const nowNames = new Set(rk.inputs.map((f) => itemName(f.fromInstance ?? '', f.rel)));
  const removed = (prevItems ?? []).filter((p) => !nowNames.has(itemName(p.from, p.rel))).length;
  const ctxBase = contextData(rc, inst, rk, outDir, grant.gpus, 1);
  const procs: HostProcess[] = [];
  const hasContext = new Set<HostProcess>();
  const extras: Grant[] = [];
  const releaseExtras = () => extras.splice(0).forEach((g) => g.release());
  let done = 0;
  let seq = 0;
  let skipReason: string | null = null;
  try {
    procs.push(spawnHost(rc, inst, grant.gpus, c));
    await procs[0]!.run({ kind: 'describe', bundle: rk.bundle!, stageId: inst.stage.id });
    const described = procs[0]!.lastDescribe!;
    if (described.kind !== 'per-item') throw new PipelineError(`${inst.id}: pipeline.json sets "perItem": true but ${inst.stage.module} exports defineStage (use definePerItemStage)`);
    if (described.hasSkipCheck) {
      await procs[0]!.run({ kind: 'skip-check', bundle: rk.bundle!, ctx: ctxBase });
      hasContext.add(procs[0]!);
      skipReason = procs[0]!.lastSkipReason;
    }
    if (skipReason !== null) {
      rc.emit({ type: 'instance-log', id: inst.id, level: 'log', message: `no items processed: ${skipReason}` });
      todo.length = 0;
    }
    // Inputs the stage turned down (wantsItem): no worker sees them, no files, no item record.
    const unwanted = new Set(skipReason === null && described.hasSkipCheck ? procs[0]!.lastUnwanted : []);
    if (unwanted.size > 0) {
      for (const i of unwanted) itemFiles[i] = {};
      todo.splice(0, todo.length, ...todo.filter(({ i }) => !unwanted.has(i)));
      rc.emit({ type: 'instance-log', id: inst.id, level: 'log', message: `${unwanted.size} of ${rk.inputs.length} inputs not wanted by the stage (wantsItem): not processed` });
    }
    rc.emit({ type: 'instance-progress', id: inst.id, done: 0, total: todo.length, label: 'items' });

    // Worker processes: one per granted slot, more as slots free up (grow), never more than chunks left.
    const chunkSize = Math.max(1, Math.min(64, Math.ceil(todo.length / (rc.jobs * 4))));
    const chunks: { input: InputFile; i: number }[][] = [];
    for (let k = 0; k < todo.length; k += chunkSize) chunks.push(todo.slice(k, k + chunkSize));
    const growable = !(inst.resources.gpu > 0 && rc.gpus.length > 0);
    const queue = [...chunks];
    const running = new Set<Promise<void>>();
    const work = async (proc: HostProcess) => {
      // Each worker reuses one folder per place in its chunk: the store takes the files, the folders
      // stay for the next chunk. Making and deleting a folder tree per item cost the runner more CPU
      // than a small per-item stage's own work (11,190 feature vectors: 41 s of rmdir alone).
      const worker = seq++;
      for (let chunk = queue.shift(); chunk; chunk = queue.shift()) {
        if (c.cancelled) throw new StageFailure('cancelled');
        const items: { item: WorkItem; i: number }[] = chunk.map(({ input, i }, slot) => {
          const itemDir = join(tmp, 'items', `${worker}-${slot}`);
          mkdirSync(itemDir, { recursive: true });
          return { item: { input, outDir: itemDir }, i };
        });
        proc.quietProgress = true;
        const ctx = hasContext.has(proc) ? 'same' : ctxBase;
        hasContext.add(proc);
        await proc.run({ kind: 'items', bundle: rk.bundle!, ctx, items: items.map((w) => w.item) });
        // Store each item as soon as its chunk is done, so a kill loses at most the running chunks.
        for (const { item, i } of items) {
          const files = storeFolder(rc, inst, item.outDir, new Map(), `item ${item.input.rel} produced`);
          rc.store.writeItem({ version: 1, key: itemKeys[i]!, rel: item.input.rel, files });
          itemFiles[i] = files;
          // A file whose object the store already held was not moved: it must not join the next item.
          for (const rel of Object.keys(files)) rmSync(join(item.outDir, rel), { force: true });
        }
        done += items.length;
        rc.emit({ type: 'instance-progress', id: inst.id, done, total: todo.length, label: 'items' });
        grow();
      }
    };
    const start = (proc: HostProcess) => {
      const p: Promise<void> = work(proc).finally(() => running.delete(p));
      p.catch(() => {}); // the first failure is rethrown by the race below; later ones are moot
      running.add(p);
    };
    // Slots freed while this instance runs (a stage beside it finished) become more workers, as long as
    // chunks are left to give them; the instance's own slot keeps the first worker.
    const grow = () => {
      if (!growable || c.cancelled) return;
      const wanted = Math.min(queue.length, rc.jobs - procs.length);
      if (wanted <= 0) return;
      const more = rc.slots.tryAcquireExtra(wanted);
      if (more.cpu === 0) return more.release();
      extras.push(more);
      for (let k = 0; k < more.cpu; k++) {
        const proc = spawnHost(rc, inst, grant.gpus, c);
        procs.push(proc);
        start(proc);
      }
    };
    // Item workers' own progress is chunk-relative; the runner reports items done instead.
    const initial = Math.max(1, Math.min(chunks.length, grant.cpu));
    while (procs.length < initial) procs.push(spawnHost(rc, inst, grant.gpus, c));
    for (const proc of procs) start(proc);
    grow();
    while (running.size > 0) await Promise.race(running);
    for (const p of procs.slice(1)) p.close();
    releaseExtras();

    // Every item's outputs, new and cached; two items may not claim the same file.
    const union: Record<string, FileEntry> = {};
    const owner = new Map<string, string>();
    const itemOutputs: ItemOutputs[] = [];
    const kept = skipReason === null ? rk.inputs : [];
    kept.forEach((input, i) => {
      const files = itemFiles[i]!;
      for (const [rel, f] of Object.entries(files)) {
        const prev = owner.get(rel);
        if (prev) throw new PipelineError(`${inst.id}: items ${prev} and ${input.rel} both produce ${rel}`);
        owner.set(rel, input.rel);
        union[rel] = f;
      }
      itemOutputs.push({ input, files: Object.keys(files) });
    });
    let files = union;
    if (described.hasFinalize) {
      const known = new Map<string, { hash: string; size: number; mtimeMs: number }>();
      // Hard links, not copies: a 5,000-item stage would otherwise copy (and delete) every output on each
      // run to let finalize read a few of them.
      for (const [rel, f] of Object.entries(union)) {
        const dest = join(outDir, rel);
        rc.store.linkObject(f.hash, dest);
        const st = statSync(dest);
        known.set(rel, { hash: f.hash, size: st.size, mtimeMs: st.mtimeMs });
      }
      procs[0]!.quietProgress = false;
      await procs[0]!.run({ kind: 'finalize', bundle: rk.bundle!, ctx: ctxBase, items: itemOutputs });
      // Writing into a linked item output would have changed the store's object itself: drop the object
      // (its items rerun next time) and fail, naming the file.
      for (const [rel, k] of known) {
        const st = statSync(join(outDir, rel), { throwIfNoEntry: false });
        if (st && (st.size !== k.size || st.mtimeMs !== k.mtimeMs)) {
          rc.store.dropObject(k.hash);
          throw new PipelineError(`${inst.id}: finalize wrote to ${rel}, an item's output; item outputs are read-only in finalize (write summary files under new names)`);
        }
      }
      files = storeFolder(rc, inst, outDir, known, 'finalize produced');
    }
    const items: ItemRecord[] = kept.flatMap((f, i) => (unwanted.has(i) ? [] : [{ from: f.fromInstance ?? '', rel: f.rel, key: itemKeys[i]! }]));
    const usage = sumUsage(procs.map((p) => p.usage));
    publishInstance(rc, inst, rk.key, rk.fields, files, started, items, usage);
    removeQuietly(ctxBase.stateDir);
    removeQuietly(tmp);
    return { items: { ran: todo.length, cached: kept.length - todo.length - unwanted.size, removed, ...(unwanted.size ? { unwanted: unwanted.size } : {}) }, ...(usage ? { usage } : {}) };
  } finally {
    releaseExtras();
    for (const p of procs) {
      p.close();
      c.processes.delete(p);
    }
  }
}
