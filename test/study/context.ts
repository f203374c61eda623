// Builds the StageContext a stage module receives from the runner, for calling the study's stages
// directly in tests (the runner itself is tested elsewhere).
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DepOutput, InputFile, StageContext } from '../../pipeline/stage-api.js';

const created: string[] = [];
// Each test file runs in its own process: the temp dirs made here go when it exits.
process.on('exit', () => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

export async function stageContext<P>(options: {
  stageId: string;
  matrix?: Record<string, string>;
  params: P;
  deps?: Record<string, string>;
  inputs?: InputFile[];
  outDir?: string;
  stateDir?: string;
  workspace?: string;
}): Promise<StageContext<P> & { logs: string[] }> {
  const matrix = options.matrix ?? {};
  const axes = Object.entries(matrix).map(([k, v]) => `${k}=${v}`).join(',');
  const instanceId = axes ? `${options.stageId}[${axes}]` : options.stageId;
  const outDir = options.outDir ?? (await mkdtemp(join(tmpdir(), `leukopipe-${options.stageId}-out-`)));
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), `leukopipe-${options.stageId}-state-`)));
  if (!options.outDir) created.push(outDir);
  if (!options.stateDir) created.push(stateDir);
  await mkdir(outDir, { recursive: true });
  await mkdir(stateDir, { recursive: true });
  const deps: Record<string, DepOutput> = {};
  for (const [id, dir] of Object.entries(options.deps ?? {})) {
    deps[id] = { instanceId: id, stageId: id.replace(/\[.*$/, ''), matrix: {}, dir };
  }
  const logs: string[] = [];
  return {
    instanceId,
    stageId: options.stageId,
    matrix,
    params: options.params,
    workspace: options.workspace ?? process.cwd(),
    outDir,
    stateDir,
    inputs: options.inputs ?? [],
    deps,
    resources: { gpu: [], cpu: 1 },
    signal: new AbortController().signal,
    log: (m) => logs.push(m),
    warn: (m) => logs.push(`warn: ${m}`),
    progress: () => {},
    logs,
  };
}
