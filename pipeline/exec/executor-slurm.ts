// The Slurm executor: each stage process becomes an sbatch job running the same stage host on a node
// that shares the workspace (dist/slurm-job.js relays through files in .pipe/slurm/<job>/). The runner
// stays on the submitting host and still owns the lock, the store and publishing; job state comes
// from squeue (scontrol/sacct for the exit code once a job has ended).
import { execFile, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { SlurmConfig } from '../config/config-types.js';
import type { EventSink } from '../log/events.js';
import { tmpSuffix, writeFileAtomic } from '../store/fs-atomic.js';
import type { HostProcess } from '../host/host-process.js';
import type { FromHost, Job, ToHost } from '../host/ipc.js';
import type { ProcessUsage } from '../host/process-usage.js';
import { packageRoot, type WorkspacePaths } from '../store/paths.js';
import type { Instance } from '../config/plan.js';
import type { JobEvent } from './slurm-job.js';
import { StageFailure, type HostCallbacks } from '../host/stage-process.js';

// Slurm's time limit and memory enforcement signal the job's processes before the job's state says why; a
// command killed by a signal waits this long for that verdict (squeue is polled about once a second).
const SIGNAL_VERDICT_WAIT_MS = 10_000;
const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'GONE']);

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') });
    });
  });
}

/** Why the Slurm executor cannot be used here, or null. */
export function slurmUnavailable(): string | null {
  const r = spawnSync('sbatch', ['--version'], { encoding: 'utf8' });
  return r.error ? 'sbatch is not on PATH (is this a Slurm login node?)' : null;
}

export interface JobSpec {
  name: string;
  cpus: number;
  gpu: number;
  mem?: string;
  time?: string;
  partition?: string;
}

export function jobSpecOf(inst: Instance): JobSpec {
  const r = inst.stage.resources ?? {};
  return {
    name: `pipe:${inst.id}`,
    cpus: Math.max(1, inst.resources.cpu),
    gpu: inst.resources.gpu,
    ...(r.mem ? { mem: r.mem } : {}),
    ...(r.time ? { time: r.time } : {}),
    ...(r.partition ? { partition: r.partition } : {}),
  };
}

/** sbatch's options for one job: the stage's resources over the executor block's defaults. */
export function sbatchArgs(cfg: SlurmConfig, spec: JobSpec, log: string, cwd: string): string[] {
  const partition = spec.partition ?? cfg.partition;
  const mem = spec.mem ?? cfg.mem;
  const time = spec.time ?? cfg.time;
  return [
    '--parsable',
    `--job-name=${spec.name}`,
    `--output=${log}`,
    `--chdir=${cwd}`,
    '--nodes=1',
    '--ntasks=1',
    `--cpus-per-task=${spec.cpus}`,
    ...(partition ? [`--partition=${partition}`] : []),
    ...(cfg.account ? [`--account=${cfg.account}`] : []),
    ...(mem ? [`--mem=${mem}`] : []),
    ...(time ? [`--time=${time}`] : []),
    ...(spec.gpu > 0 ? [`--gres=gpu:${spec.gpu}`] : []),
    ...(cfg.args ?? []),
  ];
}

export class SlurmExecutor {
  readonly maxJobs: number;
  private readonly live = new Set<SlurmStageProcess>();
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private polling = false;
  private readonly onExit = () => this.cancelLiveSync();
  readonly heartbeatTimeoutS: number;

  constructor(readonly ws: WorkspacePaths, readonly cfg: SlurmConfig, private readonly emit: EventSink) {
    this.maxJobs = cfg.jobs ?? 32;
    this.heartbeatTimeoutS = Number(process.env.PIPE_SLURM_HEARTBEAT_TIMEOUT ?? 60);
    process.on('exit', this.onExit);
    this.cancelLeftovers();
  }

  get activeDir(): string {
    return join(this.ws.pipeDir, 'slurm', 'active');
  }

  /** Jobs an earlier runner submitted and could not cancel (it was killed): cancel them now. */
  private cancelLeftovers(): void {
    if (!existsSync(this.activeDir)) return;
    const ids = readdirSync(this.activeDir).filter((n) => /^\d+$/.test(n));
    if (ids.length === 0) return;
    spawnSync('scancel', ids, { stdio: 'ignore' });
    for (const id of ids) rmSync(join(this.activeDir, id), { force: true });
    this.emit({ type: 'warn', message: `cancelled ${ids.length} Slurm job(s) left by an earlier pipe run that did not finish (${ids.join(', ')}); their results were never published` });
  }

  spawn(env: Record<string, string>, cb: HostCallbacks, spec: JobSpec): SlurmStageProcess {
    const p = new SlurmStageProcess(this, env, cb, spec);
    this.live.add(p);
    this.timer ??= setInterval(() => void this.tick(), 250);
    return p;
  }

  forget(p: SlurmStageProcess): void {
    this.live.delete(p);
    if (this.live.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private async tick(): Promise<void> {
    for (const p of this.live) p.readEvents();
    this.ticks++;
    if (this.ticks % 4 === 0) for (const p of this.live) p.beat();
    if (this.polling || this.ticks % 4 !== 0) return;
    this.polling = true;
    try {
      await this.pollStates();
    } finally {
      this.polling = false;
    }
  }

  private async pollStates(): Promise<void> {
    const byId = new Map<string, SlurmStageProcess>();
    for (const p of this.live) if (p.jobId && !p.ended) byId.set(p.jobId, p);
    if (byId.size === 0) return;
    const q = await run('squeue', ['-h', '-t', 'all', '-j', [...byId.keys()].join(','), '-o', '%i|%T|%r|%N']);
    const seen = new Set<string>();
    if (q.code === 0) {
      for (const line of q.stdout.split('\n').filter(Boolean)) {
        const [id, state, reason, node] = line.trim().split('|');
        const p = byId.get(id ?? '');
        if (!p || !state) continue;
        seen.add(id!);
        await p.onState(state, reason ?? '', node ?? '');
      }
    }
    // Not listed (squeue forgets ended jobs after MinJobAge, and refuses a list naming one it forgot).
    for (const [id, p] of byId) if (!seen.has(id)) await p.onState(await this.stateOf(id), '', '');
  }

  /** State of a job squeue no longer lists: scontrol while slurmctld remembers it, else sacct. */
  async stateOf(id: string): Promise<string> {
    const s = await run('scontrol', ['show', 'job', '-o', id]);
    const m = /JobState=(\S+)/.exec(s.stdout);
    if (s.code === 0 && m) return m[1]!;
    const a = await run('sacct', ['-n', '-P', '-X', '-j', id, '-o', 'State']);
    const st = a.code === 0 ? a.stdout.trim().split('\n')[0]?.split(' ')[0] : undefined;
    return st || 'GONE';
  }

  /** How an ended job exited (scontrol's ExitCode=code:signal, else sacct's). */
  async exitOf(id: string): Promise<{ code: number; signal: number } | undefined> {
    const s = await run('scontrol', ['show', 'job', '-o', id]);
    let m = /ExitCode=(\d+):(\d+)/.exec(s.stdout);
    if (!m) {
      const a = await run('sacct', ['-n', '-P', '-X', '-j', id, '-o', 'ExitCode']);
      m = /(\d+):(\d+)/.exec(a.stdout);
    }
    return m ? { code: Number(m[1]), signal: Number(m[2]) } : undefined;
  }

  submit(args: string[], script: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return run('sbatch', [...args, script]);
  }

  scancel(id: string): void {
    execFile('scancel', [id], () => {});
  }

  /** Cancels every job still queued or running (end of a run, Ctrl-C, process exit). */
  cancelLiveSync(): void {
    const ids = [...this.live].filter((p) => p.jobId && !p.ended).map((p) => p.jobId!);
    if (ids.length) spawnSync('scancel', ids, { stdio: 'ignore' });
    for (const id of ids) rmSync(join(this.activeDir, id), { force: true });
  }

  /** End of the run: lets jobs told to exit finish (a few seconds at most), cancels the rest. */
  async shutdown(): Promise<void> {
    for (let i = 0; i < 20 && [...this.live].some((p) => p.closing && !p.ended); i++) await new Promise((r) => setTimeout(r, 250));
    this.cancelLiveSync();
    for (const p of [...this.live]) p.abandon();
    process.off('exit', this.onExit);
  }
}

const slurmJobPath = () => join(packageRoot(), 'dist', 'slurm-job.js');
const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

export class SlurmStageProcess implements HostProcess {
  quietProgress = false;
  lastDescribe: Extract<FromHost, { type: 'described' }> | undefined;
  lastSkipReason: string | null = null;
  lastUnwanted: number[] = [];
  usage: ProcessUsage | undefined;
  jobId: string | undefined;
  ended = false;
  private readonly dir: string;
  private seq = 0;
  private offset = 0;
  private partial = '';
  private pending: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private submitError: string | undefined;
  private cancelled = false;
  private closed = false;
  get closing(): boolean {
    return this.closed && !this.cancelled && this.jobId !== undefined;
  }
  private lastState = '';
  private stderrTail: string[] = [];
  private hostExit: { message: string; code: number | undefined } | undefined;
  /** The command died of a signal: held until Slurm says whether it sent it (time limit, memory, cancel). */
  private signalled: { error: StageFailure; at: number } | undefined;

  constructor(private readonly ex: SlurmExecutor, env: Record<string, string>, private readonly cb: HostCallbacks, private readonly spec: JobSpec) {
    this.dir = join(ex.ws.pipeDir, 'slurm', `${spec.name.replace(/[^A-Za-z0-9_.=-]+/g, '_').slice(0, 80)}-${tmpSuffix()}`);
    mkdirSync(join(this.dir, 'in'), { recursive: true });
    writeFileSync(join(this.dir, 'env.json'), JSON.stringify(env));
    writeFileSync(join(this.dir, 'heartbeat'), '');
    writeFileSync(join(this.dir, 'events.jsonl'), '');
    const script = join(this.dir, 'job.sh');
    writeFileSync(script, `#!/bin/sh\n# pipe stage host for ${spec.name}\nexec ${quote(process.execPath)} ${quote(slurmJobPath())} ${quote(this.dir)} ${quote(ex.ws.root)} ${ex.heartbeatTimeoutS}\n`, { mode: 0o755 });
    const args = sbatchArgs(ex.cfg, spec, join(this.dir, 'slurm-%j.log'), ex.ws.root);
    void ex.submit(args, script).then((r) => {
      const id = /^(\d+)/.exec(r.stdout.trim())?.[1];
      if (r.code !== 0 || !id) {
        this.submitError = `sbatch failed for ${spec.name}: ${(r.stderr || r.stdout).trim()}\n  sbatch ${args.join(' ')}`;
        this.ended = true;
        this.fail(new StageFailure(this.submitError));
        this.ex.forget(this);
        return;
      }
      this.jobId = id;
      mkdirSync(ex.activeDir, { recursive: true });
      writeFileSync(join(ex.activeDir, id), this.dir);
      this.cb.log('log', `slurm job ${id} submitted (log: ${this.logPath()})`);
      if (this.cancelled) ex.scancel(id);
    });
  }

  private logPath(): string {
    return relative(this.ex.ws.root, join(this.dir, `slurm-${this.jobId ?? '%j'}.log`));
  }

  private where(): string {
    return `slurm job ${this.jobId ?? '(not submitted)'}, log ${this.logPath()}`;
  }

  private fail(e: Error): void {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }

  run(job: Job): Promise<void> {
    if (this.submitError) return Promise.reject(new StageFailure(this.submitError));
    if (this.ended) return Promise.reject(new StageFailure(`${this.where()}: the job has ended`));
    return new Promise<void>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.send({ type: 'job', job });
    });
  }

  private send(m: ToHost): void {
    if (this.ended) return;
    writeFileAtomic(join(this.dir, 'in', `${String(this.seq++).padStart(6, '0')}.json`), JSON.stringify(m));
  }

  beat(): void {
    const now = new Date();
    try {
      utimesSync(join(this.dir, 'heartbeat'), now, now);
    } catch {}
  }

  readEvents(): void {
    let fd: number;
    try {
      fd = openSync(join(this.dir, 'events.jsonl'), 'r');
    } catch {
      return;
    }
    try {
      const size = statSync(join(this.dir, 'events.jsonl')).size;
      if (size <= this.offset) return;
      const buf = Buffer.alloc(size - this.offset);
      readSync(fd, buf, 0, buf.length, this.offset);
      this.offset = size;
      this.partial += buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
    const lines = this.partial.split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) if (line) this.onEvent(JSON.parse(line) as JobEvent);
  }

  private onEvent(m: JobEvent): void {
    if (m.type === 'log') {
      if (m.level === 'warn') {
        this.stderrTail.push(m.message);
        if (this.stderrTail.length > 20) this.stderrTail.shift();
      }
      this.cb.log(m.level, m.message);
    } else if (m.type === 'progress') {
      if (!this.quietProgress) this.cb.progress(m.done, m.total, m.label);
    } else if (m.type === 'described') this.lastDescribe = m;
    else if (m.type === 'skip-check') {
      this.lastSkipReason = m.reason;
      this.lastUnwanted = m.unwanted ?? [];
    }
    else if (m.type === 'done') {
      if (m.usage) this.usage = m.usage;
      const p = this.pending;
      this.pending = undefined;
      p?.resolve();
    } else if (m.type === 'error') {
      const error = new StageFailure(`${m.clean ? m.message : `${m.message}${this.tail()}`}\n  (${this.where()})`, m.exitCode);
      if (m.signal && !this.cancelled) this.signalled = { error, at: Date.now() };
      else this.fail(error);
    } else if (m.type === 'exited') {
      // Reported once Slurm says how the job ended: a host killed for its memory is an OOM, not a crash.
      if (!this.closed || this.pending) this.hostExit = { message: `stage process exited (${m.signal ?? `code ${m.code}`}) in ${this.where()}${this.tail()}`, code: m.code ?? undefined };
    }
  }

  private tail(): string {
    return this.stderrTail.length ? `\n  stderr (last lines):\n${this.stderrTail.map((l) => `    ${l}`).join('\n')}` : '';
  }

  async onState(state: string, reason: string, node: string): Promise<void> {
    if (this.ended) return;
    const shown = `${state}${reason && reason !== 'None' ? ` (${reason})` : ''}`;
    if (shown !== this.lastState && !TERMINAL.has(state)) {
      this.lastState = shown;
      this.cb.log('log', `slurm job ${this.jobId}: ${state.toLowerCase()}${reason && reason !== 'None' ? ` (${reason})` : ''}${node && state === 'RUNNING' ? ` on ${node}` : ''}`);
    }
    if (!TERMINAL.has(state)) {
      // The job lives on, so the signal was not Slurm's verdict on it: report the command's own failure.
      if (this.signalled && Date.now() - this.signalled.at > SIGNAL_VERDICT_WAIT_MS) {
        this.fail(this.signalled.error);
        this.signalled = undefined;
      }
      return;
    }
    this.ended = true;
    this.readEvents();
    rmSync(join(this.ex.activeDir, this.jobId!), { force: true });
    if (this.pending) {
      const exit = state === 'GONE' ? undefined : await this.ex.exitOf(this.jobId!);
      // Without cgroups Slurm's memory enforcement kills the job and marks it FAILED; its log says why.
      const oom = state === 'OUT_OF_MEMORY' || /exceeded (job )?memory limit|oom-kill/i.test(this.logText());
      const code = exit && exit.signal === 0 ? exit.code : undefined;
      // Slurm's own verdict (time limit, cancel, node failure) wins over the signal the host died of.
      const crashed = (state === 'FAILED' || state === 'COMPLETED') && !oom;
      if (this.signalled && crashed) this.fail(this.signalled.error);
      else if (this.hostExit && crashed) this.fail(new StageFailure(this.hostExit.message, this.hostExit.code));
      else this.fail(new StageFailure(`${this.describeEnd(oom ? 'OUT_OF_MEMORY' : state, exit)}\n  log: ${this.logPath()}${this.logTail()}`, state === 'FAILED' && !oom ? code : undefined));
    } else if (state === 'COMPLETED' && this.closed) rmSync(this.dir, { recursive: true, force: true });
    this.ex.forget(this);
  }

  private describeEnd(state: string, exit: { code: number; signal: number } | undefined): string {
    const id = `slurm job ${this.jobId}`;
    const cfg = this.ex.cfg;
    switch (state) {
      case 'FAILED':
        return `${id} failed${exit ? (exit.signal ? ` (killed by signal ${exit.signal})` : ` with exit code ${exit.code}`) : ''}`;
      case 'OUT_OF_MEMORY':
        return `${id} ran out of memory (--mem=${this.spec.mem ?? cfg.mem ?? 'the partition default'}; raise resources.mem)`;
      case 'TIMEOUT':
        return `${id} hit its time limit (--time=${this.spec.time ?? cfg.time ?? 'the partition default'}; raise resources.time)`;
      case 'CANCELLED':
        return this.cancelled ? 'cancelled' : `${id} was cancelled outside pipe (scancel or an administrator)`;
      case 'GONE':
        return `${id} is no longer known to Slurm (squeue, scontrol and sacct have no record)`;
      default:
        return `${id} ended ${state}`;
    }
  }

  private logText(): string {
    try {
      return readFileSync(join(this.dir, `slurm-${this.jobId}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  private logTail(): string {
    const lines = this.logText().trimEnd().split('\n').slice(-8);
    return lines[0] ? `\n  log (last lines):\n${lines.map((l) => `    ${l}`).join('\n')}` : '';
  }

  /** Cancels: the job is scancelled (Slurm signals it); what it computed is never published. */
  cancel(): void {
    this.cancelled = true;
    this.send({ type: 'cancel' });
    if (this.jobId && !this.ended) this.ex.scancel(this.jobId);
  }

  kill(): void {
    this.cancel();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.send({ type: 'exit' });
  }

  /** The run is over: stop watching (shutdown has scancelled the job if it was still queued). */
  abandon(): void {
    this.ended = true;
    this.fail(new StageFailure('cancelled'));
    this.ex.forget(this);
  }
}
