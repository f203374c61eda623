// Ajv errors of a stage's params as lines a user can act on: the field, what is wrong, and for an enum
// the values allowed. Shared by the up-front check (params-check.ts) and the stage host.
import type { ErrorObject } from 'ajv';

export function paramsErrorLines(errors: ErrorObject[] | null | undefined): string[] {
  const lines = (errors ?? []).map((e) => {
    const field = `params${e.instancePath.replace(/\//g, '.')}`;
    if (e.keyword === 'additionalProperties') return `${field}: unknown param "${String(e.params.additionalProperty)}"`;
    if (e.keyword === 'required') return `${field}: missing param "${String(e.params.missingProperty)}"`;
    if (e.keyword === 'enum') return `${field}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    return `${field}: ${e.message ?? e.keyword}`;
  });
  return [...new Set(lines)];
}
