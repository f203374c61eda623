// A live snapshot of the current run (.pipe/run-state.json), for stages that report on the run
// itself (the report draws the DAG with each instance's status and time). Its path reaches stages as
// PIPE_RUN_STATE and ctx.runStateFile; it is deliberately not part of any key.
import { join } from 'node:path';
import type { PipeEvent } from '../log/events.js';
import { writeFileAtomic } from '../store/fs-atomic.js';
import type { Instance } from '../config/plan.js';
import type { RunState } from '../stage-api.js';

export class RunStateWriter {
  readonly file: string;
  private state: RunState;
  private index = new Map<string, number>();

  constructor(pipeDir: string, instances: Instance[], profile: string | undefined) {
    this.file = join(pipeDir, 'run-state.json');
    this.state = {
      runId: `${new Date().toISOString()}-${process.pid}`,
      startedAt: new Date().toISOString(),
      profile: profile ?? null,
      instances: instances.map((i, k) => {
        this.index.set(i.id, k);
        return { id: i.id, stageId: i.stage.id, matrix: i.matrix, deps: i.deps, status: 'pending', seconds: null };
      }),
    };
    this.write();
  }

  onEvent(e: PipeEvent): void {
    if (e.type !== 'instance-start' && e.type !== 'instance-done') return;
    const k = this.index.get(e.id);
    if (k === undefined) return;
    const entry = this.state.instances[k]!;
    if (e.type === 'instance-start') entry.status = 'running';
    else {
      entry.status = e.outcome === 'up-to-date' ? 'cached' : e.outcome;
      entry.seconds = e.outcome === 'ran' ? e.ms / 1000 : entry.seconds;
    }
    this.write();
  }

  private write(): void {
    writeFileAtomic(this.file, JSON.stringify(this.state, null, 1));
  }
}
