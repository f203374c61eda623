// The `pipe watch` loop. Each cycle is a normal run of the targets (the runner's keys make unchanged
// work free); file events are debounced into one batch per cycle. While a cycle runs, a change
// cancels exactly the in-flight instances it touches (handle.cancel(id)), whose work is then redone
// by the next cycle; unrelated instances keep running. A pipeline.json change cancels the whole run.
import { lstatSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { loadConfig } from '../config/config-load.js';
import { CycleReport, type ChangeSummary } from '../log/logger-watch.js';
import { buildPlan, selectTargets } from '../config/plan.js';
import { stageIdOf } from '../config/matrix.js';
import { startRun, type RunHandle, type RunOptions } from '../exec/run-pipeline.js';
import { touchedInstances, watchMap, type WatchMap } from './watch-paths.js';

export interface WatchOptions {
  run: RunOptions;
  debounceMs: number;
  /** Stop after this many cycles (the initial run counts as one); for tests and scripts. */
  cycles?: number;
  write: (text: string) => void;
}

type ChangeKind = 'added' | 'changed' | 'removed';

const IGNORED_TOP = new Set(['artifacts', '.pipe', 'node_modules', '.git', 'dist']);

export class WatchSession {
  private watcher: FSWatcher | undefined;
  private map: WatchMap | undefined;
  private watchedRoots = new Set<string>();
  private pending = new Map<string, ChangeKind>();
  private timer: NodeJS.Timeout | undefined;
  private running: { handle: RunHandle; finished: Promise<void> } | undefined;
  private cycle = 0;
  private stopped = false;
  private resolveStopped!: () => void;
  private readonly whenStopped = new Promise<void>((r) => (this.resolveStopped = r));

  constructor(private readonly opts: WatchOptions) {}

  private get ws(): string {
    return this.opts.run.workspace;
  }

  /** Watches until `stop()` or `cycles` cycles have run. */
  async start(): Promise<void> {
    this.map = await this.planMap();
    this.watcher = watch([], {
      cwd: this.ws,
      ignoreInitial: true,
      // Symlinks are not followed: a link back up the tree cannot make the watcher loop.
      followSymlinks: false,
      ignored: (path) => IGNORED_TOP.has(this.rel(path).split('/')[0] ?? ''),
    });
    this.watcher.on('all', (event, path) => {
      const kind: ChangeKind | undefined = event === 'add' ? 'added' : event === 'change' ? 'changed' : event === 'unlink' || event === 'unlinkDir' ? 'removed' : undefined;
      if (!kind) return;
      // With followSymlinks off, chokidar may still report a link to a folder (late in its first
      // scan); such a link is not data, and following it could loop.
      if (kind === 'added' && linksToFolder(join(this.ws, path))) return;
      this.onChange(kind, this.rel(path));
    });
    this.watcher.on('error', (e) => this.opts.write(`watch error: ${(e as Error).message}\n`));
    const ready = new Promise<void>((r) => this.watcher!.once('ready', () => r()));
    this.updateRoots();
    await ready;
    this.opts.write(`watching ${[...this.watchedRoots].map((r) => r || '.').join(', ')} (debounce ${this.opts.debounceMs} ms; Ctrl-C to stop)\n`);
    this.startCycle(undefined);
    await this.whenStopped;
  }

  /** Ctrl-C: cancel running instances (nothing of theirs is published), wait for the run to end. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.watcher?.close();
    const r = this.running;
    r?.handle.cancelAll();
    await r?.finished;
    this.resolveStopped();
  }

  private rel(path: string): string {
    const r = relative(this.ws, path.startsWith(sep) ? path : `${this.ws}${sep}${path}`);
    return r.split(sep).join('/');
  }

  private async planMap(): Promise<WatchMap | undefined> {
    try {
      const plan = buildPlan(await loadConfig(this.ws), { ...(this.opts.run.profile !== undefined ? { profile: this.opts.run.profile } : {}), set: this.opts.run.set ?? [] });
      return watchMap(selectTargets(plan, this.opts.run.targets ?? []));
    } catch {
      return undefined; // the cycle's run reports the error; keep the roots watched so far
    }
  }

  private updateRoots(): void {
    const wanted = new Set(this.map?.roots ?? ['pipeline.json']);
    wanted.add('pipeline.json');
    const add = [...wanted].filter((r) => !this.watchedRoots.has(r));
    const drop = [...this.watchedRoots].filter((r) => !wanted.has(r));
    if (add.length) this.watcher?.add(add.map((r) => r || '.'));
    if (drop.length) this.watcher?.unwatch(drop.map((r) => r || '.'));
    this.watchedRoots = wanted;
  }

  private onChange(kind: ChangeKind, rel: string): void {
    if (this.stopped) return;
    const prev = this.pending.get(rel);
    // A file added and changed within one batch is still "added".
    this.pending.set(rel, prev === 'added' && kind === 'changed' ? 'added' : kind);
    const r = this.running;
    if (r && this.map) {
      if (rel === 'pipeline.json') r.handle.cancelAll();
      else for (const id of touchedInstances(this.map, rel)) r.handle.cancel(id);
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.running) this.flush();
    }, this.opts.debounceMs);
  }

  private flush(): void {
    if (this.stopped || this.pending.size === 0) return;
    const changes: ChangeSummary = { added: [], changed: [], removed: [] };
    for (const [rel, kind] of [...this.pending].sort()) changes[kind].push(rel);
    this.pending.clear();
    this.startCycle(changes);
  }

  /** The targets' instances (or, without targets, those nothing depends on) sum up a cycle. */
  private isHeadline(id: string): boolean {
    const stage = stageIdOf(id);
    const targets = this.opts.run.targets ?? [];
    if (targets.length) return targets.some((t) => t === id || stageIdOf(t) === stage);
    return !this.map?.dependents.has(id);
  }

  private startCycle(changes: ChangeSummary | undefined): void {
    const report = new CycleReport(++this.cycle, changes, (id) => this.isHeadline(id));
    const t0 = Date.now();
    const handle = startRun({ ...this.opts.run, wait: true }, (e) => report.onEvent(e));
    const finished = handle.done.then(
      (r) => ({ ok: r.ok, ms: Date.now() - t0 }),
      (e: unknown) => ({ ok: false, ms: Date.now() - t0, error: (e as Error).message }),
    ).then(async (outcome) => {
      this.opts.write(report.render(outcome));
      this.running = undefined;
      if (this.stopped) return;
      if (this.opts.cycles !== undefined && this.cycle >= this.opts.cycles) {
        void this.stop();
        return;
      }
      this.map = (await this.planMap()) ?? this.map;
      this.updateRoots();
      // Changes that arrived during the run: go on once their debounce has settled.
      if (this.pending.size && !this.timer) this.flush();
    });
    this.running = { handle, finished };
  }
}

function linksToFolder(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink() && statSync(path).isDirectory();
  } catch {
    return false;
  }
}
