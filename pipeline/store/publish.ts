// Publishing a finished instance: files into objects/, the manifest (atomic rename), then the
// readable folder artifacts/stages/<instance>/.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { PipelineError } from '../config/errors.js';
import { nameProblem } from '../keys/input-names.js';
import { outputMatcher } from '../keys/inputs.js';
import type { KeyFields } from '../keys/keys.js';
import { listFiles, type RunContext } from '../exec/run-context.js';
import type { Instance } from '../config/plan.js';
import type { FileEntry, ItemRecord, Manifest } from './store.js';
import { usageFigures, type ProcessUsage } from '../host/process-usage.js';

/** Hashes and stores every file of `dir`; `known` lists files whose hash is known while unchanged. */
export function storeFolder(
  rc: RunContext,
  inst: Instance,
  dir: string,
  known: Map<string, { hash: string; size: number; mtimeMs: number }> = new Map(),
  what = 'produced',
): Record<string, FileEntry> {
  const matches = outputMatcher(inst.stage.outputs);
  const files: Record<string, FileEntry> = {};
  for (const rel of listFiles(dir)) {
    const problem = nameProblem(rel);
    if (problem) throw new PipelineError(`${inst.id} ${what} ${JSON.stringify(rel)}, whose name holds ${problem}; the store cannot list it (write it under another name)`);
    if (!matches(rel)) {
      throw new PipelineError(`${inst.id} ${what} ${rel}, which matches none of its outputs ${JSON.stringify(inst.stage.outputs)} (declare it in pipeline.json or do not write it)`);
    }
    const path = join(dir, rel);
    const k = known.get(rel);
    let hash: string | undefined;
    if (k) {
      const st = statSync(path);
      if (st.size === k.size && st.mtimeMs === k.mtimeMs) hash = k.hash;
    }
    files[rel] = rc.store.putFile(path, hash);
  }
  return files;
}

export function publishInstance(
  rc: RunContext,
  inst: Instance,
  key: string,
  fields: KeyFields,
  files: Record<string, FileEntry>,
  startedAt: number,
  items?: ItemRecord[],
  usage?: ProcessUsage,
): Manifest {
  const manifest: Manifest = {
    version: 1,
    key,
    instanceId: inst.id,
    createdAt: new Date().toISOString(),
    durationMs: Date.now() - startedAt,
    ...(usage ? usageFigures(usage) : {}),
    fields,
    files,
    ...(items ? { items } : {}),
  };
  rc.store.writeManifest(manifest);
  rc.current.materialize(rc.store, inst.id, key, files, inst.publish);
  rc.current.save();
  return manifest;
}
