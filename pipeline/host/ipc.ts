// Messages between the runner and a stage host process (child_process IPC, JSON).
import type { ItemOutputs, StageContext, WorkItem } from '../stage-api.js';
import type { ProcessUsage } from './process-usage.js';

/** The serialisable part of a StageContext (what the host turns back into one). */
export type ContextData = Omit<StageContext, 'signal' | 'log' | 'warn' | 'progress' | 'dep' | 'depList' | 'optionalDep'>;

export type Job =
  | { kind: 'describe'; bundle: string; stageId: string }
  | { kind: 'whole'; bundle: string; ctx: ContextData }
  // `ctx: 'same'` reuses the context of the process's previous job: a per-item instance's context lists
  // every input (thousands), which would otherwise be serialised again for each chunk.
  | { kind: 'items'; bundle: string; ctx: ContextData | 'same'; items: WorkItem[] }
  | { kind: 'skip-check'; bundle: string; ctx: ContextData }
  | { kind: 'finalize'; bundle: string; ctx: ContextData; items: ItemOutputs[] }
  | { kind: 'shell'; command: string; ctx: ContextData; inputsFile: string };

export type ToHost = { type: 'job'; job: Job } | { type: 'cancel' } | { type: 'exit' };

export type FromHost =
  | { type: 'log'; level: 'log' | 'warn'; message: string }
  | { type: 'progress'; done: number; total: number; label?: string }
  | { type: 'described'; kind: 'whole' | 'per-item'; hasFinalize: boolean; hasSkipCheck: boolean; paramsSchema: object | null }
  /** `unwanted`: indices into the context's inputs that the stage's `wantsItem` turned down. */
  | { type: 'skip-check'; reason: string | null; unwanted?: number[] }
  /** `usage`: what the host process has used so far (cumulative, not per job). */
  | { type: 'done'; usage?: ProcessUsage }
  /** `signal`: the stage's command was killed by this signal (on a cluster node, often the scheduler's doing). */
  | { type: 'error'; message: string; clean: boolean; exitCode?: number; signal?: string };
