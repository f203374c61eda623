// Finds a stage's dep by the producing stage's id. Its own file so that stages share it without
// importing one another's entry points.
import type { DepOutput, StageContext } from '../../pipeline/stage-api.js';

export function depByStage(ctx: StageContext<unknown>, stageId: string): DepOutput | null {
  return Object.values(ctx.deps).find((d) => d.stageId === stageId) ?? null;
}
