// `--set stage.key=value` and profile params: dotted keys into a stage's params.

export interface ParamOverride {
  stage: string;
  path: string[];
  value: unknown;
  /** Where it came from, for error messages (`--set train.epochs=3`, `profile paper`). */
  origin: string;
}

/** Parses `stage.key.sub=value`; the value is JSON when it parses as JSON, else a string. */
export function parseSetFlag(flag: string): ParamOverride {
  const eq = flag.indexOf('=');
  if (eq < 0) throw new Error(`--set ${flag}: expected stage.key=value`);
  const lhs = flag.slice(0, eq);
  const raw = flag.slice(eq + 1);
  const [stage, ...path] = lhs.split('.');
  if (!stage || path.length === 0 || path.some((p) => p === '')) throw new Error(`--set ${flag}: expected stage.key=value (e.g. train.epochs=3)`);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {}
  return { stage, path, value, origin: `--set ${flag}` };
}

export function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let obj = target;
  for (const key of path.slice(0, -1)) {
    const next = obj[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) obj[key] = {};
    obj = obj[key] as Record<string, unknown>;
  }
  obj[path[path.length - 1]!] = value;
}
