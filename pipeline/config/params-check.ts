// Before anything runs: every selected module instance's params against its stage's paramsSchema, and
// every param key written in pipeline.json (a stage's params, a profile's params) or given by `--set`
// against the params the stage knows — its schema's top-level properties, compared here because
// stage schemas rarely say `additionalProperties: false`, and a misspelt `"epoch": 5` in train would
// otherwise be a param nothing reads. A wrong type in train's params is reported
// in a second, not after an hour of segment…features. The schema is read once from a stage host and
// cached with the bundle (module-bundler.ts), so a later run loads no stage module to check.
import { PipelineError } from './errors.js';
import { paramsErrorLines } from './params-errors.js';
import type { Instance, Plan } from './plan.js';
import { stageEnv, type RunContext } from '../exec/run-context.js';
import { StageProcess } from '../host/stage-process.js';

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
    problems.push(...unknownParamKeys(plan, stageId, schema));
  }
  if (problems.length) throw new PipelineError(`params do not fit their stage's schema (nothing was run):\n  ${[...new Set(problems)].join('\n  ')}`);
}

/** The top-level params a schema declares, or null when it accepts others too (patternProperties, additionalProperties). */
function declaredParams(schema: object): Set<string> | null {
  const s = schema as { properties?: object; additionalProperties?: unknown; patternProperties?: object };
  if (!s.properties || s.patternProperties || (s.additionalProperties !== undefined && s.additionalProperties !== false)) return null;
  return new Set(Object.keys(s.properties));
}

/** A param key in pipeline.json (stage or profile params) or `--set` that the stage does not know, located and named. */
function unknownParamKeys(plan: Plan, stageId: string, schema: object): string[] {
  const { config, locator } = plan.loaded;
  const declared = declaredParams(schema);
  const index = config.stages.findIndex((s) => s.id === stageId);
  const own = Object.keys(config.stages[index]?.params ?? {});
  // Without a closed list of params, pipeline.json's own are taken as known (a `--set` typo is still caught).
  const known = declared ?? new Set(own);
  const list = `params: ${[...known].sort().join(', ') || 'none'}`;
  const out: string[] = [];
  if (declared) {
    for (const key of own) {
      if (!known.has(key)) out.push(`pipeline.json:${locator.at(['stages', index, 'params', key])}: stage "${stageId}" has no param "${key}" (${list})`);
    }
  }
  for (const o of plan.overrides) {
    if (o.stage !== stageId || known.has(o.path[0]!)) continue;
    if (o.origin.startsWith('--set')) out.push(`${o.origin}: stage "${stageId}" has no param "${o.path[0]}" (${list})`);
    else if (declared && plan.profile !== undefined) {
      const at = locator.at(['profiles', plan.profile, 'params', [o.stage, ...o.path].join('.')]);
      out.push(`pipeline.json:${at}: ${o.origin}: stage "${stageId}" has no param "${o.path[0]}" (${list})`);
    }
  }
  return out;
}
