// Messages between the controlled test stage (controlled.ts, controlled-items.ts) and the test that
// drives it (test/runner/controlled-stage.ts): newline-delimited JSON over a Unix socket.

/** The variable the stage finds the rig's socket in; a controlled stage declares it in its `env`. */
export const RIG_ENV = 'PIPE_TEST_RIG';

/** Files to write: path (relative to the outDir) → content. */
export type Files = Record<string, string>;

export interface Hello {
  type: 'hello';
  instanceId: string;
  stageId: string;
  /** `run`: a whole stage's run(); `items`: one processItems() call (one chunk). */
  kind: 'run' | 'items';
  /** The stage process (its stage host). */
  pid: number;
  /** The chunk's item rels (`items` only). */
  items: string[];
  /** The instance's inputs; `text` for files of at most 4 KiB. */
  inputs: { rel: string; hash: string; text?: string }[];
  params: Record<string, unknown>;
  matrix: Record<string, string>;
  resources: { gpu: string[]; cpu: number };
  /** The stage process's environment (what the runner let through). */
  env: Record<string, string>;
}

export type ToRig = Hello | { type: 'ack'; seq: number } | { type: 'aborted' };

/** Files per destination: '' = the whole stage's outDir, an item rel = that item's outDir. */
export type FilesByDest = Record<string, Files>;

export type ToStage =
  | { type: 'write'; seq: number; files: FilesByDest }
  | { type: 'finish'; seq: number; files: FilesByDest }
  | { type: 'fail'; seq: number; message: string }
  | { type: 'hang'; seq: number };
