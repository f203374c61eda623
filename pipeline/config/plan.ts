// Turns a validated pipeline.json (+ profile + --set) into the instance graph, and reports every
// structural problem (duplicate ids, unknown or cyclic deps, empty matrices, clashing publish
// folders, unknown profile/stage in overrides) before anything runs.
import type { MatrixAxes, MatrixConfig, MatrixValue, StageConfig } from './config-types.js';
import type { LoadedConfig } from './config-load.js';
import type { JsonPath } from './config-locate.js';
import { ConfigErrors } from './errors.js';
import { escapeGlob, expandHome } from '../keys/glob-files.js';
import { interpolateGlobs, interpolateString, interpolateValue, InterpolationError } from './interpolate.js';
import { expandAxes, instanceId, parseSelector, sameCombo, type Combination } from './matrix.js';
import { parseSetFlag, setPath, type ParamOverride } from './param-overrides.js';
import type { DeclaredDep } from '../stage-api.js';

export interface InputFromInstances {
  from: string;
  glob: string;
  /** Dep instance ids whose outputs are searched. */
  instances: string[];
}

export interface Instance {
  id: string;
  stage: StageConfig;
  /** Matrix values as strings (what stages see) and as written. */
  matrix: Record<string, string>;
  matrixRaw: Combination;
  params: Record<string, unknown>;
  /** Workspace-relative fast-glob patterns, interpolated. */
  inputGlobs: string[];
  inputFrom: InputFromInstances[];
  /** Dep instance ids, in declaration order. */
  deps: string[];
  /** Dep names (aliases, or stage ids of the list form) → where declared and the instances they matched. */
  declaredDeps: Record<string, DeclaredDep>;
  /** Deps whose outputs are this (per-item) instance's items; excluded from item keys. */
  itemSourceDeps: string[];
  env: string[];
  publish?: string;
  resources: { gpu: number; cpu: number };
}

export interface Plan {
  loaded: LoadedConfig;
  profile?: string;
  instances: Map<string, Instance>;
  /** Topological order (deps first), stable with respect to pipeline.json order. */
  order: Instance[];
  byStage: Map<string, Instance[]>;
  overrides: ParamOverride[];
}

export interface PlanOptions {
  profile?: string;
  set?: string[];
}

/** deps as [list index or alias, selector] pairs. */
function depEntries(deps: StageConfig['deps']): Array<[number | string, string]> {
  if (!deps) return [];
  return Array.isArray(deps) ? deps.map((d, j): [number, string] => [j, d]) : Object.entries(deps);
}

export function buildPlan(loaded: LoadedConfig, options: PlanOptions = {}): Plan {
  const { config, locator } = loaded;
  const fileName = 'pipeline.json';
  const problems: string[] = [];
  const at = (path: JsonPath, msg: string) => problems.push(`${fileName}:${locator.at(path)}: ${msg}`);
  const fail = () => {
    if (problems.length) throw new ConfigErrors(fileName, problems);
  };

  // Duplicate ids.
  const stageIndex = new Map<string, number>();
  config.stages.forEach((s, i) => {
    if (stageIndex.has(s.id)) at(['stages', i, 'id'], `duplicate stage id "${s.id}" (first defined as stages[${stageIndex.get(s.id)}])`);
    else if (s.id === 'vars') at(['stages', i, 'id'], 'the stage id "vars" is reserved (`--set vars.x=…` sets pipeline.json\'s vars)');
    else stageIndex.set(s.id, i);
    if (s.perItem && !s.module) at(['stages', i, 'perItem'], `stage "${s.id}": perItem stages need a \`module\` (definePerItemStage)`);
  });
  fail();

  // Profile, then --set.
  const stages: StageConfig[] = config.stages.map((s) => structuredClone(s));
  const overrides: ParamOverride[] = [];
  if (options.profile !== undefined) {
    const profile = config.profiles?.[options.profile];
    if (!profile) {
      const names = Object.keys(config.profiles ?? {});
      throw new ConfigErrors(fileName, [`unknown profile "${options.profile}" (${names.length ? `profiles: ${names.join(', ')}` : 'pipeline.json defines no profiles'})`]);
    }
    for (const [key, value] of Object.entries(profile.params ?? {})) {
      const [stage, ...path] = key.split('.');
      overrides.push({ stage: stage!, path, value, origin: `profile "${options.profile}" params["${key}"]` });
    }
    for (const [stageId, matrix] of Object.entries(profile.matrix ?? {})) {
      const i = stageIndex.get(stageId);
      if (i === undefined) at(['profiles', options.profile, 'matrix', stageId], `profile "${options.profile}": unknown stage "${stageId}"`);
      else stages[i]!.matrix = structuredClone(matrix);
    }
  }
  for (const flag of options.set ?? []) {
    try {
      overrides.push(parseSetFlag(flag));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const vars = structuredClone(config.vars ?? {});
  for (const o of overrides) {
    if (o.stage === 'vars') {
      if (!(o.path[0]! in vars)) problems.push(`${o.origin}: unknown var "${o.path[0]}" (vars: ${Object.keys(vars).join(', ') || 'none in pipeline.json'})`);
      else setPath(vars, o.path, o.value);
      continue;
    }
    const i = stageIndex.get(o.stage);
    if (i === undefined) problems.push(`${o.origin}: unknown stage "${o.stage}" (stages: ${[...stageIndex.keys()].join(', ')})`);
    else setPath((stages[i]!.params ??= {}), o.path, o.value);
  }
  fail();

  // Expand matrices; `matrix.from` needs the source stage expanded first.
  const combosByStage = new Map<string, { axes: string[]; combos: Combination[] }>();
  const expanding = new Set<string>();
  const expand = (id: string, chain: string[]): { axes: string[]; combos: Combination[] } | undefined => {
    const done = combosByStage.get(id);
    if (done) return done;
    const i = stageIndex.get(id)!;
    const m: MatrixConfig | undefined = stages[i]!.matrix;
    if (expanding.has(id)) {
      at(['stages', i, 'matrix'], `matrix cycle: ${[...chain, id].join(' → ')}`);
      return undefined;
    }
    expanding.add(id);
    let result: { axes: string[]; combos: Combination[] };
    if (!m) result = { axes: [], combos: [{}] };
    else if ('from' in m && (typeof m.from === 'string' || Array.isArray(m.from))) {
      // One instance per instance of each named stage, in order; the axes are the union of theirs.
      const sources = (typeof m.from === 'string' ? [m.from] : m.from) as string[];
      const axes: string[] = [];
      const combos: Combination[] = [];
      for (const from of sources) {
        if (!stageIndex.has(from)) {
          at(['stages', i, 'matrix', 'from'], `stage "${id}": matrix.from names unknown stage "${from}"`);
          return undefined;
        }
        const src = expand(from, [...chain, id]);
        if (!src) return undefined;
        for (const a of src.axes) if (!axes.includes(a)) axes.push(a);
        for (const c of src.combos) {
          if (combos.some((seen) => sameCombo(seen, c))) {
            at(['stages', i, 'matrix', 'from'], `stage "${id}": matrix.from gives ${instanceId(id, src.axes, c)} twice (stages ${sources.join(', ')} share a combination)`);
            return undefined;
          }
          combos.push(c);
        }
      }
      result = { axes, combos };
    } else {
      // An axis given as "${vars.x}" takes the list kept in vars.
      const axes: MatrixAxes = { ...(m as MatrixAxes) };
      for (const [axis, value] of Object.entries(axes)) {
        if (typeof value !== 'string') continue;
        let list: unknown;
        try {
          list = interpolateValue(value, { vars });
        } catch (e) {
          at(['stages', i, 'matrix', axis], `stage "${id}": matrix.${axis} "${value}": ${(e as Error).message}`);
          return undefined;
        }
        if (!Array.isArray(list) || list.some((v) => !['string', 'number', 'boolean'].includes(typeof v))) {
          at(['stages', i, 'matrix', axis], `stage "${id}": matrix.${axis} "${value}" must name a list of strings, numbers or booleans in vars`);
          return undefined;
        }
        axes[axis] = list as MatrixValue[];
      }
      result = expandAxes(axes);
    }
    if (result.combos.length === 0) {
      at(['stages', i, 'matrix'], `stage "${id}": matrix expands to no instance (check its axes, include and exclude)`);
      return undefined;
    }
    combosByStage.set(id, result);
    return result;
  };
  for (const s of stages) expand(s.id, []);
  fail();

  // Instances with interpolated params, inputs and publish folders.
  const instances = new Map<string, Instance>();
  const byStage = new Map<string, Instance[]>();
  stages.forEach((stage, i) => {
    const { axes, combos } = combosByStage.get(stage.id)!;
    const list: Instance[] = [];
    for (const combo of combos) {
      const id = instanceId(stage.id, axes, combo);
      const matrix: Record<string, string> = {};
      for (const a of axes) if (a in combo) matrix[a] = String(combo[a]);
      const scope = { matrix: combo as Record<string, MatrixValue>, vars };
      let params: Record<string, unknown> = {};
      try {
        params = interpolateValue(stage.params ?? {}, scope) as Record<string, unknown>;
      } catch (e) {
        at(['stages', i, 'params'], `${id}: params: ${(e as Error).message}`);
      }
      const full = { matrix: combo, params, vars };
      const inputGlobs: string[] = [];
      const inputFrom: InputFromInstances[] = [];
      (stage.inputs ?? []).forEach((input, j) => {
        try {
          if (typeof input === 'string') inputGlobs.push(...interpolateGlobs(input, full, escapeGlob).map(expandHome));
          else inputFrom.push({ from: input.from, glob: interpolateString(input.glob, full), instances: [] });
        } catch (e) {
          if (e instanceof InterpolationError) at(['stages', i, 'inputs', j], `${id}: inputs[${j}]: ${e.message}`);
          else throw e;
        }
      });
      let publish: string | undefined;
      if (stage.publish !== undefined) {
        try {
          publish = normalizeRel(interpolateString(stage.publish, full));
        } catch (e) {
          at(['stages', i, 'publish'], `${id}: publish: ${(e as Error).message}`);
        }
      }
      const inst: Instance = {
        id,
        stage,
        matrix,
        matrixRaw: combo,
        params,
        inputGlobs,
        inputFrom,
        deps: [],
        declaredDeps: {},
        itemSourceDeps: [],
        env: [...new Set([...(config.env ?? []), ...(stage.env ?? [])])].sort(),
        ...(publish !== undefined ? { publish } : {}),
        resources: { gpu: stage.resources?.gpu ?? 0, cpu: stage.resources?.cpu ?? 1 },
      };
      instances.set(id, inst);
      list.push(inst);
    }
    byStage.set(stage.id, list);
  });
  fail();

  // Deps.
  stages.forEach((stage, i) => {
    for (const inst of byStage.get(stage.id)!) {
      const depStages = new Map<string, string[]>();
      for (const [j, raw] of depEntries(stage.deps)) {
        const path: JsonPath = ['stages', i, 'deps', j];
        const label = typeof j === 'number' ? `deps[${j}]` : `deps.${j}`;
        let text: string;
        try {
          text = interpolateString(raw, { matrix: inst.matrixRaw, params: inst.params, vars });
        } catch (e) {
          at(path, `${inst.id}: ${label} "${raw}": ${(e as Error).message}`);
          continue;
        }
        const sel = parseSelector(text);
        if (!sel) { at(path, `${inst.id}: ${label} "${raw}" is not of the form stage or stage[key=value,…]`); continue; }
        const candidates = byStage.get(sel.stage);
        if (!candidates) { at(path, `stage "${stage.id}": unknown dependency "${sel.stage}" (stages: ${[...stageIndex.keys()].join(', ')})`); continue; }
        if (sel.stage === stage.id) { at(path, `stage "${stage.id}" depends on itself (cycle)`); continue; }
        const matches = candidates.filter((c) => Object.entries(sel.where).every(([k, v]) => c.matrix[k] === v));
        if (matches.length === 0 && !sel.optional) {
          at(path, `${inst.id}: dependency "${text}" matches no instance of "${sel.stage}" (it has ${candidates.map((c) => c.id).join(', ')}); add "?" to make it optional`);
          continue;
        }
        const ids = depStages.get(sel.stage) ?? [];
        for (const m of matches) if (!inst.deps.includes(m.id)) (inst.deps.push(m.id), ids.push(m.id));
        depStages.set(sel.stage, ids);
        // The list form names each dep by its stage (two selectors of one stage share the name).
        const name = typeof j === 'number' ? sel.stage : j;
        const declared = inst.declaredDeps[name] ?? { where: `${fileName}:${locator.at(path)}`, selector: raw, instances: [] };
        for (const m of matches) if (!declared.instances.includes(m.id)) declared.instances.push(m.id);
        inst.declaredDeps[name] = declared;
      }
      inst.inputFrom.forEach((f, j) => {
        const ids = depStages.get(f.from);
        const index = (stage.inputs ?? []).findIndex((x, k) => typeof x !== 'string' && k >= j && x.from === f.from);
        if (!ids) at(['stages', i, 'inputs', index < 0 ? j : index], `${inst.id}: inputs from "${f.from}", which is not in its deps`);
        else f.instances = ids;
      });
      if (stage.perItem) inst.itemSourceDeps = [...new Set(inst.inputFrom.flatMap((f) => f.instances))];
    }
  });
  fail();

  // Cycles (depth-first, reporting the cycle's path).
  const order: Instance[] = [];
  const state = new Map<string, 1 | 2>();
  const visit = (inst: Instance, chain: string[]): boolean => {
    const s = state.get(inst.id);
    if (s === 2) return true;
    if (s === 1) {
      const from = chain.indexOf(inst.id);
      const i = stageIndex.get(inst.stage.id)!;
      at(['stages', i, 'deps'], `dependency cycle: ${[...chain.slice(from), inst.id].join(' → ')}`);
      return false;
    }
    state.set(inst.id, 1);
    for (const d of inst.deps) if (!visit(instances.get(d)!, [...chain, inst.id])) return false;
    state.set(inst.id, 2);
    order.push(inst);
    return true;
  };
  for (const inst of instances.values()) if (!visit(inst, [])) break;
  fail();

  // Publish folders: no two instances may claim the same or nested workspace folders, and none may
  // point into the store or the runner's state.
  const claims: { dir: string; inst: Instance }[] = [];
  for (const inst of order) {
    if (inst.publish === undefined) continue;
    const i = stageIndex.get(inst.stage.id)!;
    const dir = inst.publish;
    if (dir === '' || dir === '.' || dir.startsWith('..') || /^(artifacts|\.pipe|node_modules)(\/|$)/.test(dir) || dir.startsWith('/')) {
      at(['stages', i, 'publish'], `${inst.id}: publish folder "${dir}" must be a workspace subfolder outside artifacts/, .pipe/ and node_modules/`);
      continue;
    }
    const clash = claims.find((c) => c.dir === dir || c.dir.startsWith(`${dir}/`) || dir.startsWith(`${c.dir}/`));
    if (clash) at(['stages', i, 'publish'], `output path "${dir}" of ${inst.id} is also claimed by ${clash.inst.id} ("${clash.dir}")${inst.stage === clash.inst.stage ? ' (use ${matrix.…} in publish to give each instance its own folder)' : ''}`);
    else claims.push({ dir, inst });
    for (const g of inst.inputGlobs) {
      if (g === dir || g.startsWith(`${dir}/`)) at(['stages', i, 'publish'], `${inst.id}: publish folder "${dir}" overlaps its own inputs "${g}"`);
    }
  }
  fail();

  return { loaded, ...(options.profile !== undefined ? { profile: options.profile } : {}), instances, order, byStage, overrides };
}

function normalizeRel(p: string): string {
  return p.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '');
}

/** Instances named by `targets` (stage ids, instance ids or selectors) plus everything they need. */
export function selectTargets(plan: Plan, targets: string[]): Instance[] {
  if (targets.length === 0) return plan.order;
  const wanted = new Set<string>();
  for (const t of targets) {
    const exact = plan.instances.get(t);
    let roots: Instance[];
    if (exact) roots = [exact];
    else {
      const sel = parseSelector(t);
      const list = sel ? plan.byStage.get(sel.stage) : undefined;
      if (!sel || !list) throw new ConfigErrors('pipeline.json', [`unknown target "${t}" (stages: ${[...plan.byStage.keys()].join(', ')})`]);
      roots = list.filter((c) => Object.entries(sel.where).every(([k, v]) => c.matrix[k] === v));
      if (roots.length === 0) throw new ConfigErrors('pipeline.json', [`target "${t}" matches no instance (${list.map((c) => c.id).join(', ')})`]);
    }
    const stack = [...roots];
    while (stack.length) {
      const inst = stack.pop()!;
      if (wanted.has(inst.id)) continue;
      wanted.add(inst.id);
      for (const d of inst.deps) stack.push(plan.instances.get(d)!);
    }
  }
  return plan.order.filter((i) => wanted.has(i.id));
}
