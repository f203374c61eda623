// A dep by its pipeline.json name, for stages whose deps are optional in some pipelines (train without
// normalize, features without weights, split and audit without augment or fingerprint): none when the name
// is not declared or an optional selector matched nothing; several matches still fail, naming the line.
import type { DepOutput, StageContext } from '../../../pipeline/stage-api.js';

export function declaredDep(ctx: StageContext<unknown>, name: string): DepOutput | null {
  return ctx.declaredDeps[name] ? ctx.optionalDep(name) : null;
}

/** Every output behind a name, or none when the pipeline does not declare it. */
export function declaredDepList(ctx: StageContext<unknown>, name: string): DepOutput[] {
  return ctx.declaredDeps[name] ? ctx.depList(name) : [];
}
