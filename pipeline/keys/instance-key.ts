// Computes an instance's key fields once its deps have finished.
import { itemKeyOf, itemName, KEY_FORMAT, keyOf, type KeyFields } from './keys.js';
import { hashJson, sha256 } from './hash.js';
import { resolveInputs, type FinishedInstance } from './inputs.js';
import type { Instance } from '../config/plan.js';
import type { RunContext } from '../exec/run-context.js';
import type { InputFile } from '../stage-api.js';

export interface ResolvedKey {
  key: string;
  fields: KeyFields;
  inputs: InputFile[];
  /** Warnings for input files left out by name (a newline in the name). */
  rejected: string[];
  /** Per-item stages: one key per input file. */
  itemKeys?: string[];
  /** Module stages: the bundle to run. */
  bundle?: string;
  /** Every dep's key (item sources included), handed to the stage in DepOutput. */
  depKeys: Record<string, string>;
}

/** What the key records of a declared env variable's value: its sha256 (same on every machine, so the remote cache still matches). */
export function envValueHash(value: string): string {
  return `sha256:${sha256(value)}`;
}

/**
 * What a dependent's key records of a dep: the digest of the files it published (path → content hash),
 * not its key. A dep that reran — new code, new params — and wrote the same files leaves its dependents
 * up to date (early cutoff, as Bazel and Shake do). A dep that publishes nothing is recorded by its key,
 * since only its key can tell that it changed.
 */
export function depOutputsDigest(dep: FinishedInstance): string {
  return Object.keys(dep.hashes).length === 0 ? dep.key : hashJson(dep.hashes);
}

export async function resolveKey(rc: RunContext, inst: Instance, finished: (id: string) => FinishedInstance): Promise<ResolvedKey> {
  let code: KeyFields['code'];
  let bundle: string | undefined;
  if (inst.stage.module) {
    const b = await rc.bundler.bundle(inst.stage.module, `stage "${inst.stage.id}"`);
    code = { module: b.files };
    bundle = b.bundle;
  } else code = { command: inst.stage.command ?? '' };
  const { files: inputs, rejected } = resolveInputs(inst, rc.ws, rc.hashes, finished);
  const itemSources = new Set(inst.itemSourceDeps);
  const deps: Record<string, string> = {};
  const depKeys: Record<string, string> = {};
  for (const d of inst.deps) {
    const dep = finished(d);
    depKeys[d] = dep.key;
    if (!itemSources.has(d)) deps[d] = depOutputsDigest(dep);
  }
  // A declared variable may hold a secret (a token): the key and the manifest get its hash, never the value.
  const env: Record<string, string | null> = {};
  for (const name of inst.env) {
    const value = process.env[name];
    env[name] = value === undefined ? null : envValueHash(value);
  }
  const fields: KeyFields = {
    format: KEY_FORMAT,
    instance: inst.id,
    matrix: inst.matrix,
    code,
    params: inst.params,
    inputs: {},
    deps,
    runtime: rc.runtime,
    env,
    outputs: inst.stage.outputs ?? [],
    // Aliases (the object form of deps) are what the stage reads by, so they belong to its key.
    ...(!Array.isArray(inst.stage.deps ?? []) ? { depNames: Object.fromEntries(Object.entries(inst.declaredDeps).map(([n, d]) => [n, d.instances])) } : {}),
  };
  const named: Record<string, string> = {};
  for (const f of inputs) named[itemName(f.fromInstance ?? '', f.rel)] = f.hash;
  if (!inst.stage.perItem) {
    fields.inputs = named;
    return { key: keyOf(fields), fields, inputs, rejected, depKeys, ...(bundle ? { bundle } : {}) };
  }
  const itemCommon = hashJson({ ...fields, inputs: {} });
  fields.inputs = named;
  fields.itemCommon = itemCommon;
  const itemKeys = inputs.map((f) => itemKeyOf(itemCommon, f.fromInstance ?? '', f.rel, f.hash));
  return { key: keyOf(fields), fields, inputs, rejected, itemKeys, depKeys, ...(bundle ? { bundle } : {}) };
}
