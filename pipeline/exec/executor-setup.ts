// Which executor a run uses: --executor, else pipeline.json's executor.default, else local.
import type { PipelineConfig } from '../config/config-types.js';
import type { EventSink } from '../log/events.js';
import { PipelineError } from '../config/errors.js';
import { SlurmExecutor, slurmUnavailable } from './executor-slurm.js';
import type { WorkspacePaths } from '../store/paths.js';

export function slurmExecutorFor(config: PipelineConfig, chosen: 'local' | 'slurm' | undefined, ws: WorkspacePaths, emit: EventSink): SlurmExecutor | undefined {
  const kind = chosen ?? config.executor?.default ?? 'local';
  if (kind !== 'slurm') return undefined;
  const why = slurmUnavailable();
  if (why) throw new PipelineError(`--executor slurm: ${why}`);
  return new SlurmExecutor(ws, config.executor?.slurm ?? {}, emit);
}
