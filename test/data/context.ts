// A real StageContext over temp dirs, for calling stages without the runner.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DepOutput, InputFile, StageContext, WorkItem } from '../../pipeline/stage-api.js';
import { depsRecord, fakeStageContext } from '../fake-stage-context.js';

const created: string[] = [];
// Each test file runs in its own process: its temp dirs go when it exits.
process.on('exit', () => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = 'leukopipe-data-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export function inputFile(workspace: string, abs: string, fromInstance?: string): InputFile {
  return {
    path: abs,
    rel: path.relative(workspace, abs).split(path.sep).join('/'),
    hash: createHash('sha256').update(readFileSync(abs)).digest('hex'),
    ...(fromInstance ? { fromInstance } : {}),
  };
}

export function makeContext<P>(stageId: string, params: P, opts: { workspace: string; outDir?: string; inputs?: InputFile[]; deps?: DepOutput[] }): StageContext<P> & { warnings: string[] } {
  const warnings: string[] = [];
  const ctx = fakeStageContext({
    instanceId: stageId,
    stageId,
    matrix: {},
    params,
    workspace: opts.workspace,
    outDir: opts.outDir ?? tempDir(),
    stateDir: tempDir(),
    inputs: opts.inputs ?? [],
    deps: depsRecord(opts.deps ?? []),
    resources: { gpu: [], cpu: 1 },
    warn: (m) => warnings.push(m),
  });
  return Object.assign(ctx, { warnings });
}

/** Runs a per-item stage the way the runner lays it out: each item in its own dir, then merged. */
export async function runPerItem<P>(
  stage: { processItems(ctx: StageContext<P>, items: WorkItem[]): Promise<void>; finalize?(ctx: StageContext<P>, items: { input: InputFile; files: string[] }[]): Promise<void> },
  ctx: StageContext<P>,
): Promise<{ input: InputFile; files: string[] }[]> {
  const { cpSync, readdirSync, statSync } = await import('node:fs');
  const items = ctx.inputs.map((input) => ({ input, outDir: tempDir('item-') }));
  await stage.processItems(ctx, items);
  const outputs = items.map((it) => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        const p = path.join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(path.relative(it.outDir, p).split(path.sep).join('/'));
      }
    };
    walk(it.outDir);
    cpSync(it.outDir, ctx.outDir, { recursive: true });
    return { input: it.input, files: files.sort() };
  });
  await stage.finalize?.(ctx, outputs);
  return outputs;
}
