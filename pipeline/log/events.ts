// The typed event stream of a run. The runner emits; loggers (TTY, plain) and `pipe watch` consume.

export type Outcome = 'up-to-date' | 'restored' | 'ran' | 'failed' | 'skipped' | 'cancelled';

export type PipeEvent =
  | { type: 'run-start'; instances: number; jobs: number; gpus: string[] }
  | { type: 'info'; message: string }
  | { type: 'warn'; message: string }
  | { type: 'instance-start'; id: string; reason: string; items?: { todo: number; cached: number } }
  | { type: 'instance-progress'; id: string; done: number; total: number; label?: string }
  | { type: 'instance-log'; id: string; level: 'log' | 'warn'; message: string }
  | {
      type: 'instance-done';
      id: string;
      outcome: Outcome;
      ms: number;
      /** Why it ran / was restored; for failures, the message, exit code and stderr tail. */
      detail?: string;
      /** `unwanted`: inputs the stage said it does not process (wantsItem). */
      items?: { ran: number; cached: number; removed: number; unwanted?: number };
      /** Ran: CPU time of its stage processes (all of them, user + system) and the peak memory of the largest. */
      cpuMs?: number;
      maxRssMb?: number;
    }
  /** `cpuMs`: the CPU time of every stage process that ran (not the runner's own). */
  | { type: 'run-done'; ok: boolean; ms: number; counts: Record<Outcome, number>; cpuMs?: number };

export type EventSink = (event: PipeEvent) => void;
