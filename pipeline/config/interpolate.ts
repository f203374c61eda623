// `${params.x}` / `${matrix.x}` / `${vars.x}` substitution in pipeline.json strings.

export type Scope = { params?: Record<string, unknown>; matrix?: Record<string, unknown>; vars?: Record<string, unknown> };
type Kind = keyof Scope;

const REF = /\$\{(params|matrix|vars)\.([A-Za-z0-9_.*-]+)\}/g;

export class InterpolationError extends Error {}

function lookup(scope: Scope, kind: Kind, path: string): unknown {
  if (path.includes('*')) throw new InterpolationError(`\${${kind}.${path}}: "*" is only allowed in an input glob`);
  let v: unknown = scope[kind];
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object' || !(part in (v as object))) {
      throw new InterpolationError(`\${${kind}.${path}} refers to nothing (${kind} has ${describeKeys(scope[kind])})`);
    }
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function describeKeys(obj: unknown): string {
  const keys = obj && typeof obj === 'object' ? Object.keys(obj) : [];
  return keys.length ? keys.join(', ') : 'no keys';
}

/** Replaces references inside a string; values are stringified (objects as JSON). */
export function interpolateString(s: string, scope: Scope, quote?: (v: string) => string): string {
  return s.replace(REF, (_m, kind: Kind, path: string) => {
    const v = lookup(scope, kind, path);
    const str = typeof v === 'string' ? v : JSON.stringify(v);
    return quote ? quote(str) : str;
  });
}

/** Deep substitution for params: a string that is exactly one reference becomes the referenced value. */
export function interpolateValue(value: unknown, scope: Scope): unknown {
  if (typeof value === 'string') {
    const exact = /^\$\{(params|matrix|vars)\.([A-Za-z0-9_.-]+)\}$/.exec(value);
    if (exact) return lookup(scope, exact[1] as Kind, exact[2]!);
    return interpolateString(value, scope);
  }
  if (Array.isArray(value)) return value.map((v) => interpolateValue(v, scope));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateValue(v, scope);
    return out;
  }
  return value;
}

/**
 * An input glob with a `*` in a reference, e.g. `${vars.labs.*.root}/<glob>`: one glob per value of
 * the object (or array) before the `*` that has the rest of the path, so each declared dataset adds
 * its own files to the stage's key. Values without that field are skipped; a glob without `*` is one glob.
 */
export function interpolateGlobs(s: string, scope: Scope, quote?: (v: string) => string): string[] {
  const star = /\$\{(params|matrix|vars)\.([A-Za-z0-9_.-]+?)\.\*(?:\.([A-Za-z0-9_.-]+))?\}/.exec(s);
  if (!star) return [interpolateString(s, scope, quote)];
  const [whole, kind, head, tail] = star as unknown as [string, Kind, string, string | undefined];
  const container = lookup(scope, kind, head);
  if (container === null || typeof container !== 'object') throw new InterpolationError(`\${${kind}.${head}} is not an object or array, so "*" cannot range over it`);
  const out: string[] = [];
  for (const value of Object.values(container)) {
    let v: unknown = value;
    for (const part of tail ? tail.split('.') : []) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    if (v === undefined || v === null || typeof v === 'object') continue;
    out.push(...interpolateGlobs(s.replace(whole, quote ? quote(String(v)) : String(v)), scope, quote));
  }
  return out;
}
