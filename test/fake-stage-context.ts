// The one StageContext for calling stages without the runner: fills what the runner fills (dep names,
// keys, dep()/depList()) from plain dep dirs, so a test states only what it is about.
import { depLookup, type DeclaredDep, type DepOutput, type StageContext } from '../pipeline/stage-api.js';

/** A dep output as the runner hands it: named by its stage (list form) unless `name` says otherwise. */
export function fakeDep(instanceId: string, dir: string, extra: Partial<DepOutput> = {}): DepOutput {
  const stageId = extra.stageId ?? instanceId.replace(/\[.*$/, '');
  return { instanceId, stageId, matrix: {}, dir, name: stageId, key: `test-key:${instanceId}`, created: null, seconds: null, ...extra };
}

/** Deps keyed by instance id, as the runner gives them, from a list. */
export function depsRecord(deps: DepOutput[]): Record<string, DepOutput> {
  return Object.fromEntries(deps.map((d) => [d.instanceId, d]));
}

type ContextFields<P> = Omit<StageContext<P>, 'dep' | 'depList' | 'optionalDep' | 'declaredDeps' | 'signal' | 'log' | 'warn' | 'progress'>
  & Partial<Pick<StageContext<P>, 'signal' | 'log' | 'warn' | 'progress' | 'declaredDeps'>>;

/** A full context from its data fields; dep names are declared from the deps' own names. */
export function fakeStageContext<P>(fields: ContextFields<P>): StageContext<P> {
  const declared: Record<string, DeclaredDep> = fields.declaredDeps ?? {};
  if (!fields.declaredDeps) {
    for (const d of Object.values(fields.deps)) {
      const entry = declared[d.name] ?? { where: `pipeline.json (test dep ${d.name})`, selector: d.stageId, instances: [] };
      entry.instances.push(d.instanceId);
      declared[d.name] = entry;
    }
  }
  return {
    signal: new AbortController().signal,
    log: () => {},
    warn: () => {},
    progress: () => {},
    ...fields,
    declaredDeps: declared,
    ...depLookup(fields.deps, declared),
  };
}
