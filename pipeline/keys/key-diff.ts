// Field-by-field difference of two key field sets: what `pipe explain` and `pipe status` print.
import { canonicalJson } from './hash.js';
import type { KeyFields } from './keys.js';

/** `showValues: false` names what changed without its old and new values (env variables may be secrets). */
function mapDiff(label: string, a: Record<string, unknown>, b: Record<string, unknown>, limit: number, showValues = true): string[] {
  const out: string[] = [];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  let added = 0, removed = 0, changed = 0;
  for (const k of keys) {
    const va = a[k], vb = b[k];
    if (va === undefined) added++;
    else if (vb === undefined) removed++;
    else if (canonicalJson(va) !== canonicalJson(vb)) changed++;
    else continue;
    if (out.length < limit) {
      if (va === undefined) out.push(`${label}: added ${k}`);
      else if (vb === undefined) out.push(`${label}: removed ${k}`);
      else if (!showValues) out.push(`${label}: ${k} changed`);
      else out.push(`${label}: ${k} changed${typeof va === 'string' && /^[0-9a-f]{64}$/.test(va) ? ` (${va.slice(0, 8)} → ${String(vb).slice(0, 8)})` : ` (${canonicalJson(va)} → ${canonicalJson(vb)})`}`);
    }
  }
  const total = added + removed + changed;
  if (total > out.length) out.push(`${label}: … ${total} in all (${added} added, ${removed} removed, ${changed} changed)`);
  return out;
}

function flatten(value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = value;
  return out;
}

/** Lines like `params: epochs changed (30 → 3)`, `inputs: added data/x.jpg`, `code: stages/lib/util.ts changed`. */
export function diffKeyFields(old: KeyFields, now: KeyFields, limit = 10): string[] {
  const out: string[] = [];
  if (old.format !== now.format) out.push(`runner key format changed (${old.format} → ${now.format})`);
  const codeA = 'command' in old.code ? { command: old.code.command } : old.code.module;
  const codeB = 'command' in now.code ? { command: now.code.command } : now.code.module;
  out.push(...mapDiff('code', codeA, codeB, limit));
  out.push(...mapDiff('params', flatten(old.params), flatten(now.params), limit));
  out.push(...mapDiff('inputs', old.inputs, now.inputs, limit));
  out.push(...mapDiff('deps', old.deps, now.deps, limit));
  if (old.runtime.node !== now.runtime.node) out.push(`runtime: node ${old.runtime.node} → ${now.runtime.node}`);
  if (old.runtime.lockfile !== now.runtime.lockfile) out.push('runtime: package-lock.json changed');
  out.push(...mapDiff('env', old.env, now.env, limit, false));
  if (canonicalJson(old.outputs) !== canonicalJson(now.outputs)) out.push(`outputs: ${canonicalJson(old.outputs)} → ${canonicalJson(now.outputs)}`);
  if (canonicalJson(old.matrix) !== canonicalJson(now.matrix)) out.push(`matrix: ${canonicalJson(old.matrix)} → ${canonicalJson(now.matrix)}`);
  return out;
}
