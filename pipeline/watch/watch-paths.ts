// What `pipe watch` watches, and which instances a changed path touches. Watch roots are the fixed
// part of every input glob, the folder of every stage module (its local imports live beside it)
// and pipeline.json; a change under a root touches the instances declaring it and all their dependents.
import { dirname } from 'node:path';
import type { Instance } from '../config/plan.js';

/** The leading path segments of a glob that hold no glob syntax ('' = the workspace itself). */
export function globBase(glob: string): string {
  const parts = glob.replace(/\\/g, '/').replace(/^\.\//, '').split('/');
  const fixed: string[] = [];
  for (const p of parts.slice(0, -1)) {
    if (/[*?[\]{}()!]/.test(p)) break;
    fixed.push(p);
  }
  return fixed.join('/');
}

export interface WatchMap {
  /** Workspace-relative roots to watch ('' = the workspace folder). */
  roots: string[];
  /** For each instance id, the roots whose changes invalidate it directly. */
  rootsByInstance: Map<string, string[]>;
  /** Instance id → ids that depend on it directly. */
  dependents: Map<string, string[]>;
}

/** `instances`: the watched targets and everything they need (selectTargets). */
export function watchMap(instances: Instance[]): WatchMap {
  const rootsByInstance = new Map<string, string[]>();
  const dependents = new Map<string, string[]>();
  const roots = new Set<string>(['pipeline.json']);
  for (const inst of instances) {
    const own = inst.inputGlobs.map(globBase);
    if (inst.stage.module) own.push(dirname(inst.stage.module).replace(/^\.$/, ''));
    rootsByInstance.set(inst.id, own);
    for (const r of own) roots.add(r);
    for (const d of inst.deps) dependents.set(d, [...(dependents.get(d) ?? []), inst.id]);
  }
  return { roots: collapse([...roots]), rootsByInstance, dependents };
}

/** Drops roots inside other roots, so each folder is watched once. */
function collapse(roots: string[]): string[] {
  const sorted = [...new Set(roots)].sort((a, b) => a.length - b.length);
  const kept: string[] = [];
  for (const r of sorted) if (!kept.some((k) => under(r, k))) kept.push(r);
  return kept.sort();
}

export function under(path: string, root: string): boolean {
  return root === '' || path === root || path.startsWith(`${root}/`);
}

/** Instances whose inputs or code a change to `rel` may alter, plus everything downstream of them. */
export function touchedInstances(map: WatchMap, rel: string): Set<string> {
  const hit = new Set<string>();
  if (rel === 'pipeline.json') return new Set(map.rootsByInstance.keys());
  for (const [id, roots] of map.rootsByInstance) if (roots.some((r) => under(rel, r))) hit.add(id);
  const stack = [...hit];
  while (stack.length) for (const d of map.dependents.get(stack.pop()!) ?? []) if (!hit.has(d)) hit.add(d), stack.push(d);
  return hit;
}
