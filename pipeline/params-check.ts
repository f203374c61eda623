// Before anything runs: every selected module instance's params against its stage's paramsSchema, and
// every `--set` key against the params the stage knows. A wrong type in train's params is reported
// in a second, not after an hour of segment…features. The schema is read once from a stage host and
// cached with the bundle (module-bundler.ts), so a later run loads no stage module to check.
import { PipelineError } from './errors.js';
import { paramsErrorLines } from './params-errors.js';
import type { Instance, Plan } from './plan.js';
import { stageEnv, type RunContext } from './run-context.js';
import { StageProcess } from './stage-process.js';

async function schemaOf(rc: Pick<RunContext, 'bundler' | 'ws'>, inst: Instance): Promise<object | null | undefined> {
  const modulePath = inst.stage.module!;
  let bundled;
  try {
    bundled = await rc.bundler.bundle(modulePath, `stage "${inst.stage.id}"`);
  } catch {
    return undefined; // a missing or broken module fails its instance, with its own message
  }
  if (bundled.paramsSchema !== undefined) return bundled.paramsSchema;
  const proc = new StageProcess(stageEnv(inst.env, null), rc.ws.root, { log: () => {}, progress: () => {} });
  try {
    await proc.run({ kind: 'describe', bundle: bundled.bundle, stageId: inst.stage.id });
  } catch {
    return undefined; // a module that does not load fails when its instance runs
  } finally {
    proc.close();
  }
  const schema = proc.lastDescribe?.paramsSchema ?? null;
  rc.bundler.rememberSchema(modulePath, schema);
  return schema;
}

export async function checkParamsUpFront(rc: Pick<RunContext, 'bundler' | 'ws'>, plan: Plan, selected: Instance[]): Promise<void> {
  const problems: string[] = [];
  const byStage = new Map<string, Instance[]>();
  for (const inst of selected) if (inst.stage.module) byStage.set(inst.stage.id, [...(byStage.get(inst.stage.id) ?? []), inst]);
  const { Ajv2020 } = await import('ajv/dist/2020.js');
  const ajv = new Ajv2020({ allErrors: true, strict: false, useDefaults: false });
  for (const [stageId, instances] of byStage) {
    const schema = await schemaOf(rc, instances[0]!);
    if (!schema) continue;
    const validate = ajv.compile(schema);
    for (const inst of instances) {
      if (!validate(inst.params)) problems.push(`${inst.id}: invalid params:\n    ${paramsErrorLines(validate.errors).join('\n    ')}`);
    }
    // A misspelt `--set train.epoch=5` would otherwise add a param nothing reads (known: the schema's and
    // pipeline.json's own params, before profile and --set were applied).
    const known = new Set([...Object.keys((schema as { properties?: object }).properties ?? {}), ...Object.keys(plan.loaded.config.stages.find((s) => s.id === stageId)?.params ?? {})]);
    for (const o of plan.overrides) {
      if (o.stage !== stageId || !o.origin.startsWith('--set') || known.has(o.path[0]!)) continue;
      problems.push(`${o.origin}: stage "${stageId}" has no param "${o.path[0]}" (params: ${[...known].sort().join(', ')})`);
    }
  }
  if (problems.length) throw new PipelineError(`params do not fit their stage's schema (nothing was run):\n  ${[...new Set(problems)].join('\n  ')}`);
}
