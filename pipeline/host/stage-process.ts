// Runner side of a stage host process: spawn, send jobs, relay logs/progress, collect the stderr tail.
import { spawn, type ChildProcess } from 'node:child_process';
import type { FromHost, Job, ToHost } from './ipc.js';
import { stageHostPath } from '../store/paths.js';
import type { ProcessUsage } from './process-usage.js';

export class StageFailure extends Error {
  constructor(message: string, readonly exitCode?: number) {
    super(message);
  }
}

export interface HostCallbacks {
  log(level: 'log' | 'warn', message: string): void;
  progress(done: number, total: number, label?: string): void;
}

export class StageProcess {
  private child: ChildProcess;
  private stderrTail: string[] = [];
  private pending: { resolve: (m: FromHost) => void; reject: (e: Error) => void } | undefined;
  private exited = false;
  /** Drops the stage's own progress reports (per-item chunks: the runner counts items instead). */
  quietProgress = false;
  lastDescribe: Extract<FromHost, { type: 'described' }> | undefined;
  /** The answer of the last skip-check job: why the stage processes no item this time, or null. */
  lastSkipReason: string | null = null;
  lastUnwanted: number[] = [];
  usage: ProcessUsage | undefined;

  constructor(env: Record<string, string>, cwd: string, private readonly cb: HostCallbacks) {
    this.child = spawn(process.execPath, [stageHostPath()], { cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const lines = (level: 'log' | 'warn', keep: boolean) => {
      let buf = '';
      return (chunk: Buffer) => {
        buf += chunk.toString();
        const parts = buf.split('\n');
        buf = parts.pop()!;
        for (const line of parts) {
          if (keep) {
            this.stderrTail.push(line);
            if (this.stderrTail.length > 20) this.stderrTail.shift();
          }
          this.cb.log(level, line);
        }
      };
    };
    // A send to a process that just died raises EPIPE here; the 'exit' handler reports the failure.
    this.child.on('error', () => {});
    this.child.stdout!.on('data', lines('log', false));
    this.child.stderr!.on('data', lines('warn', true));
    this.child.on('message', (m: FromHost) => {
      if (m.type === 'log') this.cb.log(m.level, m.message);
      else if (m.type === 'progress') {
        if (!this.quietProgress) this.cb.progress(m.done, m.total, m.label);
      }
      else if (m.type === 'described') this.lastDescribe = m;
      else if (m.type === 'skip-check') {
        this.lastSkipReason = m.reason;
        this.lastUnwanted = m.unwanted ?? [];
      }
      else if (m.type === 'done' || m.type === 'error') {
        const p = this.pending;
        this.pending = undefined;
        if (m.type === 'done') {
          if (m.usage) this.usage = m.usage;
          p?.resolve(m);
        }
        else p?.reject(new StageFailure(m.clean ? m.message : `${m.message}${this.tail()}`, m.exitCode));
      }
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(new StageFailure(`stage process exited (${signal ?? `code ${code}`})${this.tail()}`, code ?? undefined));
    });
  }

  private tail(): string {
    return this.stderrTail.length ? `\n  stderr (last lines):\n${this.stderrTail.map((l) => `    ${l}`).join('\n')}` : '';
  }

  run(job: Job): Promise<void> {
    if (this.exited) return Promise.reject(new StageFailure('stage process is gone'));
    return new Promise<void>((resolve, reject) => {
      this.pending = { resolve: () => resolve(), reject };
      this.send({ type: 'job', job });
    });
  }

  private send(m: ToHost) {
    try {
      if (this.child.connected) this.child.send(m);
    } catch {}
  }

  /** Cancels: the stage sees its signal abort; the process is killed shortly after. */
  cancel(): void {
    this.send({ type: 'cancel' });
    setTimeout(() => this.kill(), 2000).unref();
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  close(): void {
    if (this.exited) return;
    this.send({ type: 'exit' });
    try {
      if (this.child.connected) this.child.disconnect();
    } catch {}
  }
}
