// What the runner needs of a stage host, local (StageProcess, IPC) or on a cluster
// (SlurmStageProcess, files on the shared file system).
import type { FromHost, Job } from './ipc.js';
import type { ProcessUsage } from './process-usage.js';

export interface HostProcess {
  /** Drops the stage's own progress reports (per-item chunks: the runner counts items instead). */
  quietProgress: boolean;
  lastDescribe: Extract<FromHost, { type: 'described' }> | undefined;
  lastSkipReason: string | null;
  /** The inputs (indices) the last skip-check said the stage does not process at all. */
  lastUnwanted: number[];
  /** The process's usage as of its last finished job (undefined before one, or where the host does not say). */
  usage: ProcessUsage | undefined;
  run(job: Job): Promise<void>;
  cancel(): void;
  kill(): void;
  close(): void;
}
