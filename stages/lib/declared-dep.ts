// A dep by its pipeline.json name, for stages whose deps are all optional in some pipelines (split and
// audit run with or without normalize, augment, fingerprint): null when the name is not declared or an
// optional selector matched nothing; several matches still fail, naming the pipeline.json line.
import type { DepOutput, StageContext } from '../../pipeline/stage-api.js';

export function declaredDep(ctx: StageContext<unknown>, name: string): DepOutput | null {
  return ctx.declaredDeps[name] ? ctx.optionalDep(name) : null;
}
