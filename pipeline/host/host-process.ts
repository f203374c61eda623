// What the runner needs of a stage host, local (StageProcess, IPC) or on a cluster
// (SlurmStageProcess, files on the shared file system).
import type { FromHost, Job } from './ipc.js';

export interface HostProcess {
  /** Drops the stage's own progress reports (per-item chunks: the runner counts items instead). */
  quietProgress: boolean;
  lastDescribe: Extract<FromHost, { type: 'described' }> | undefined;
  lastSkipReason: string | null;
  run(job: Job): Promise<void>;
  cancel(): void;
  kill(): void;
  close(): void;
}
