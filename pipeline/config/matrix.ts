// Matrix expansion: cartesian product of axes, plus `include`, minus `exclude`.
import type { MatrixAxes, MatrixValue } from './config-types.js';

export type Combination = Record<string, MatrixValue>;

export function expandAxes(m: MatrixAxes): { axes: string[]; combos: Combination[] } {
  const axes = Object.keys(m).filter((k) => k !== 'include' && k !== 'exclude');
  let combos: Combination[] = axes.length ? [{}] : [];
  for (const axis of axes) {
    const values = (m[axis] as MatrixValue[]) ?? [];
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [axis]: v })));
  }
  for (const inc of m.include ?? []) {
    for (const k of Object.keys(inc)) if (!axes.includes(k)) axes.push(k);
    if (!combos.some((c) => sameCombo(c, inc))) combos.push({ ...inc });
  }
  const excludes = m.exclude ?? [];
  combos = combos.filter((c) => !excludes.some((ex) => Object.entries(ex).every(([k, v]) => String(c[k]) === String(v))));
  return { axes, combos };
}

export function sameCombo(a: Combination, b: Combination): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => String(a[k]) === String(b[k]));
}

/** `train[arch=densenet121,mode=transfer]`, axes in declaration order. */
export function instanceId(stageId: string, axes: string[], combo: Combination): string {
  const parts = axes.filter((a) => a in combo).map((a) => `${a}=${String(combo[a])}`);
  return parts.length ? `${stageId}[${parts.join(',')}]` : stageId;
}

/** The stage an instance id belongs to: `train[arch=a,mode=b]` → `train`. */
export function stageIdOf(id: string): string {
  const bracket = id.indexOf('[');
  return bracket < 0 ? id : id.slice(0, bracket);
}

/** Parses `stage`, `stage[k=v,…]`, with an optional trailing `?`. */
export function parseSelector(s: string): { stage: string; where: Record<string, string>; optional: boolean } | null {
  const m = /^([A-Za-z][A-Za-z0-9_-]*)(?:\[([^\]]*)\])?(\?)?$/.exec(s.trim());
  if (!m) return null;
  const where: Record<string, string> = {};
  for (const part of (m[2] ?? '').split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) return null;
    where[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return { stage: m[1]!, where, optional: m[3] === '?' };
}
