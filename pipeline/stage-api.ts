// The contract between the runner and a stage module (`stages/*.ts`).
//
// A stage module's default export is the value returned by `defineStage` (the whole stage
// runs once per instance) or `definePerItemStage` (the runner caches per input file and hands
// the stage only the items whose key changed). The runner bundles the module with esbuild,
// runs it in its own child process and talks to it over IPC; the stage itself never sees
// the store, keys or IPC — only this context.

/** One input file as the runner resolved it. */
export interface InputFile {
  /** Absolute path to read. */
  path: string;
  /** Path relative to the workspace root, or to the producing stage's output dir for items from a dep. */
  rel: string;
  /** sha256 of the content, hex. */
  hash: string;
  /** Stage instance that produced the file, when it came from a dep's outputs. */
  fromInstance?: string;
}

/** The published outputs of an instance this one depends on. */
export interface DepOutput {
  instanceId: string;
  stageId: string;
  matrix: Record<string, string>;
  /** Absolute path of the dep's output directory (read-only; files are links into the store). */
  dir: string;
  /** The name pipeline.json gives this dep: the alias of `deps: { alias: selector }`, or the stage id in a list. */
  name: string;
  /** The dep's key (the content address its outputs are stored under). */
  key: string;
  /** When the outputs under that key were built (ISO 8601, from the store's manifest); null when unknown. */
  created: string | null;
  /** How long building them took, in seconds (a restored or cached result keeps its original time); null when unknown. */
  seconds: number | null;
}

/** What an instance did in the current run, as the run state records it. */
export type RunStatus = 'pending' | 'running' | 'ran' | 'cached' | 'restored' | 'failed' | 'skipped' | 'cancelled';

/** The runner's live snapshot of the current run: the JSON in `ctx.runStateFile`. */
export interface RunState {
  runId: string;
  startedAt: string;
  /** The `--profile` of the run, if any. */
  profile: string | null;
  /** Every instance of the run, in plan order; `deps` are instance ids; `seconds` is set once it ran. */
  instances: { id: string; stageId: string; matrix: Record<string, string>; deps: string[]; status: RunStatus; seconds: number | null }[];
}

/** What pipeline.json declares under one dep name: where (for errors) and which instances matched. */
export interface DeclaredDep {
  /** `pipeline.json:line:column` of the selector. */
  where: string;
  /** The selector as written, e.g. `features[arch=${matrix.arch}]?`. */
  selector: string;
  /** Matching instance ids, in declaration order (none for an optional dep that matched nothing). */
  instances: string[];
}

export interface StageContext<P = Record<string, unknown>> {
  /** e.g. `train[arch=densenet121,mode=transfer]` */
  instanceId: string;
  /** e.g. `train` */
  stageId: string;
  /** Matrix values of this instance (empty for a plain stage). */
  matrix: Record<string, string>;
  /** Resolved params: pipeline.json, then profile, then `--set`. */
  params: P;
  /** Absolute path of the workspace root (the folder holding pipeline.json). */
  workspace: string;
  /** Absolute path of an empty temporary directory; everything written here is published on success. */
  outDir: string;
  /**
   * Absolute path of a directory that survives a crash or kill of this instance (same key), for
   * checkpoints a rerun can resume from. The runner removes it once the instance succeeds.
   */
  stateDir: string;
  /** Files matched by the stage's `inputs` globs, sorted by `rel`. */
  inputs: InputFile[];
  /** Outputs of every dep instance, keyed by instance id. */
  deps: Record<string, DepOutput>;
  /** The dep names pipeline.json declares for this stage. */
  declaredDeps: Record<string, DeclaredDep>;
  /**
   * The one output behind a dep name (`deps: { "cells": "normalize" }` → `ctx.dep('cells')`; in the list form
   * the name is the stage id). Throws a StageError naming the dep and its pipeline.json line when the name is
   * not declared, matched no instance, or matched several (use depList).
   */
  dep(name: string): DepOutput;
  /** Every output behind a dep name, in declaration order; [] for an optional dep that matched none. */
  depList(name: string): DepOutput[];
  /** Like dep(name), but null when an optional dep matched nothing (still throws for an undeclared name). */
  optionalDep(name: string): DepOutput | null;
  /** Resources granted by the scheduler; `gpu` holds the device ids also put in CUDA_VISIBLE_DEVICES. */
  resources: { gpu: string[]; cpu: number };
  /**
   * Path of a JSON snapshot of the current run (a RunState), rewritten as instances start and finish; also in
   * env PIPE_RUN_STATE. Not part of any key: a cached result that read it shows the run that built it. Absent
   * outside `pipe run`.
   */
  runStateFile?: string;
  /** Aborted when the runner cancels the instance (watch mode, Ctrl-C); the process is killed soon after. */
  signal: AbortSignal;
  log(message: string): void;
  warn(message: string): void;
  /** Drives the runner's progress bar; call as often as convenient (the runner throttles). */
  progress(done: number, total: number, label?: string): void;
}

/** A stage that runs once per instance. */
export interface WholeStage<P> {
  kind: 'whole';
  /** Optional JSON Schema for params; the runner reports violations naming the stage and field. */
  paramsSchema?: object;
  run(ctx: StageContext<P>): Promise<void>;
}

/** One unit of per-item work. */
export interface WorkItem {
  input: InputFile;
  /**
   * Absolute path of this item's own temporary root. Files written here are laid out as they should
   * appear in the stage's output directory (e.g. `crops/EOSINOPHIL/EO_1.png`); the runner stores them
   * per item, so deleting the input later removes exactly these files.
   */
  outDir: string;
}

/** What an item produced, as the finalize step sees it. */
export interface ItemOutputs {
  input: InputFile;
  /** Paths relative to the stage's output directory. */
  files: string[];
}

/** A stage that maps input files one to one; its cache is per item. */
export interface PerItemStage<P> {
  kind: 'per-item';
  paramsSchema?: object;
  /**
   * Compute the outputs of `items` (only those whose item key is new). May be called several times,
   * in several processes at once, with disjoint chunks; so it must not depend on other items.
   * Throwing fails the whole instance; to record a bad item without failing, write a record file.
   */
  processItems(ctx: StageContext<P>, items: WorkItem[]): Promise<void>;
  /**
   * Optional: a reason why no item needs processing this time (e.g. the weights every item needs are
   * missing), or null. With a reason the runner processes no item, calls `finalize` with none and
   * publishes the instance, which costs a moment instead of a pass over thousands of items.
   */
  skipAllItems?(ctx: StageContext<P>): Promise<string | null>;
  /**
   * Optional: which inputs this instance processes at all, decided from the params and the input's name
   * alone (features of only the first few augmented variants). The others never reach `processItems`:
   * no worker handles them, they produce no files and keep no item record (asked again on the next run
   * of the instance), and `finalize` sees them with no outputs. Cheaper than filtering inside
   * `processItems`, where the runner still ships, stores and records every item.
   */
  wantsItem?(ctx: StageContext<P>): (input: InputFile) => boolean;
  /**
   * Optional aggregation over every item's outputs (new and cached), which the runner has already laid
   * out in `ctx.outDir` as read-only links into the store. Write summary files (records.jsonl, contact
   * sheets) into `ctx.outDir` under new names; writing to an item's output fails the instance.
   */
  finalize?(ctx: StageContext<P>, items: ItemOutputs[]): Promise<void>;
}

export type StageModule<P = any> = WholeStage<P> | PerItemStage<P>;

export function defineStage<P = Record<string, unknown>>(stage: Omit<WholeStage<P>, 'kind'>): WholeStage<P> {
  return { kind: 'whole', ...stage };
}

export function definePerItemStage<P = Record<string, unknown>>(
  stage: Omit<PerItemStage<P>, 'kind'>,
): PerItemStage<P> {
  return { kind: 'per-item', ...stage };
}

/** dep / depList / optionalDep over a context's deps (the runner's stage host and test contexts use it). */
export function depLookup(deps: Record<string, DepOutput>, declared: Record<string, DeclaredDep>): Pick<StageContext, 'dep' | 'depList' | 'optionalDep'> {
  const declaredAs = (name: string): DeclaredDep => {
    const d = declared[name];
    if (!d) throw new StageError(`no dep named "${name}" (this stage declares: ${Object.keys(declared).join(', ') || 'none'})`, 'pipeline.json deps');
    return d;
  };
  const depList = (name: string): DepOutput[] => {
    const d = declaredAs(name);
    return d.instances.map((id) => {
      const out = deps[id];
      if (!out) throw new StageError(`dep "${name}" (${d.selector}): instance ${id} has no outputs`, d.where);
      return out;
    });
  };
  const optionalDep = (name: string): DepOutput | null => {
    const outs = depList(name);
    if (outs.length > 1) {
      const d = declaredAs(name);
      throw new StageError(`dep "${name}" (${d.selector}) matched ${outs.length} instances (${outs.map((o) => o.instanceId).join(', ')}); one was expected`, d.where);
    }
    return outs[0] ?? null;
  };
  const dep = (name: string): DepOutput => {
    const out = optionalDep(name);
    if (!out) throw new StageError(`dep "${name}" (${declaredAs(name).selector}) matched no instance`, declaredAs(name).where);
    return out;
  };
  return { dep, depList, optionalDep };
}

/** Thrown by a stage for a user-facing failure; the runner prints the message without a stack trace. */
export class StageError extends Error {
  constructor(
    message: string,
    /** File, field or item the error is about. */
    readonly subject?: string,
  ) {
    super(subject ? `${subject}: ${message}` : message);
    this.name = 'StageError';
  }
}

// ---------------------------------------------------------------------------------------------
// Commands: `pipe <name> args…` runs a module named in pipeline.json's `commands` (e.g. predict).

export interface CommandContext {
  /** Arguments after the command name, as typed (`pipe predict --model x folder` → `['--model', 'x', 'folder']`). */
  argv: string[];
  /** Absolute path of the workspace root. */
  workspace: string;
  /**
   * Absolute path of the current, published output directory of a stage instance (e.g.
   * `train[arch=mobilenet_v1_0.25,mode=transfer]`). Throws a StageError naming the instance when it
   * has no current outputs (it never ran, or its outputs are stale), telling the user to `pipe run` it.
   */
  outputDir(instanceId: string): string;
  /** Ids of the instances of `stageId` that have published outputs, sorted (numbers in natural order). */
  instances(stageId: string): string[];
  /**
   * A folder (not yet created) where the command may keep what it derived, to read on a later call: under
   * `artifacts/cache/<command>/`, named by the hash of the command's code, so a change of code starts an empty
   * one and nothing older code wrote is read. `pipe gc` removes every command's cache.
   */
  cacheDir: string;
  log(message: string): void;
  warn(message: string): void;
}

export interface CommandModule {
  kind: 'command';
  /** One-line usage shown by `pipe <name> --help`, e.g. `pipe predict --model <instance> <file|folder>…`. */
  usage?: string;
  /** Returns the process exit code (0 when omitted). Throw a StageError for a clean user-facing failure. */
  run(ctx: CommandContext): Promise<number | void>;
}

export function defineCommand(command: Omit<CommandModule, 'kind'>): CommandModule {
  return { kind: 'command', ...command };
}
