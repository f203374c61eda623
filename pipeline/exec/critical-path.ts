// Which ready instance gets a free slot first: the one with the most work still behind it, as Bazel's and
// Ninja's schedulers order actions by their critical path. An instance's priority is its own expected
// duration plus the largest priority among the selected instances that depend on it; the expected
// duration is how long the instance took the last time it ran in this workspace (its current outputs'
// manifest). An instance that never ran counts as 0, so a fresh workspace keeps the plan's order.
import type { Instance } from '../config/plan.js';

/** Priority of every selected instance (seconds of known work on its longest path to the end of the run). */
export function criticalPathPriorities(selected: readonly Instance[], lastSeconds: (id: string) => number | undefined): Map<string, number> {
  const ids = new Set(selected.map((i) => i.id));
  const dependents = new Map<string, string[]>(selected.map((i) => [i.id, []]));
  for (const inst of selected) for (const d of inst.deps) if (ids.has(d)) dependents.get(d)!.push(inst.id);
  const priority = new Map<string, number>();
  // Dependents before their deps; memoised, and the DAG has no cycles (the plan rejects them).
  const of = (id: string): number => {
    let p = priority.get(id);
    if (p === undefined) {
      p = (lastSeconds(id) ?? 0) + Math.max(0, ...dependents.get(id)!.map(of));
      priority.set(id, p);
    }
    return p;
  };
  for (const inst of selected) of(inst.id);
  return priority;
}
