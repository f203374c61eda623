// Builds the StageContext a stage module receives from the runner, for calling the study's stages
// directly in tests (the runner itself is tested elsewhere).
import { mkdir } from 'node:fs/promises';
import type { DepOutput, InputFile, StageContext } from '../../pipeline/stage-api.js';
import { tempDir } from '../data/context.js';
import { fakeDep, fakeStageContext } from '../fake-stage-context.js';

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
  // Temp dirs that go when the test process exits (tempDir).
  const outDir = options.outDir ?? tempDir(`leukopipe-${options.stageId}-out-`);
  const stateDir = options.stateDir ?? tempDir(`leukopipe-${options.stageId}-state-`);
  await mkdir(outDir, { recursive: true });
  await mkdir(stateDir, { recursive: true });
  const deps: Record<string, DepOutput> = {};
  for (const [id, dir] of Object.entries(options.deps ?? {})) {
    deps[id] = fakeDep(id, dir);
  }
  const logs: string[] = [];
  const ctx = fakeStageContext({
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
    log: (m) => logs.push(m),
    warn: (m) => logs.push(`warn: ${m}`),
  });
  return Object.assign(ctx, { logs });
}
