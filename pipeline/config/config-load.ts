// Reads pipeline.json: syntax errors and schema violations name the file, JSON path, line:column and
// what was expected. The schema check (ajv) is skipped when the file's text was already validated, to
// keep a no-op run fast.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parseTree, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { SourceLocator, type JsonPath } from './config-locate.js';
import type { PipelineConfig } from './config-types.js';
import { ConfigErrors, PipelineError } from './errors.js';
import { sha256 } from '../keys/hash.js';
import { writeFileAtomic } from '../store/fs-atomic.js';
import { schemaPath } from '../store/paths.js';

export interface LoadedConfig {
  file: string;
  workspace: string;
  config: PipelineConfig;
  locator: SourceLocator;
  /** sha256 of the file's text. */
  textHash: string;
}

/**
 * The first syntax error only (the parser's later ones follow from it), said the way a person would:
 * a trailing comma at the comma itself, a truncated file as such.
 */
function syntaxError(text: string, errors: ParseError[], fileName: string, locator: SourceLocator): string {
  const first = errors[0];
  if (!first) return `${fileName}: JSON syntax error: the file holds no JSON value`;
  const before = text.slice(0, first.offset).trimEnd();
  if (before.endsWith(',') && /^\s*[}\]]/.test(text.slice(first.offset))) {
    return `${fileName}:${locator.lineColumn(before.length - 1)}: JSON syntax error: trailing comma (JSON allows none before } or ])`;
  }
  if (text.slice(first.offset).trim() === '') {
    return `${fileName}:${locator.lineColumn(first.offset)}: JSON syntax error: the file ends early (${printParseErrorCode(first.error)}; is it truncated?)`;
  }
  return `${fileName}:${locator.lineColumn(first.offset)}: JSON syntax error: ${printParseErrorCode(first.error)}`;
}

export async function loadConfig(workspace: string, fileName = 'pipeline.json'): Promise<LoadedConfig> {
  const file = join(workspace, fileName);
  if (!existsSync(file)) throw new PipelineError(`no ${fileName} in ${workspace} (run pipe in the folder that holds it, or pass --cwd)`);
  const text = readFileSync(file, 'utf8');
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: false, disallowComments: true });
  const locator = new SourceLocator(text, root);
  if (errors.length > 0 || !root) {
    throw new ConfigErrors(fileName, [syntaxError(text, errors, fileName, locator)]);
  }
  const config = JSON.parse(text) as PipelineConfig;
  const schemaText = readFileSync(schemaPath(), 'utf8');
  const textHash = sha256(text);
  const stamp = join(workspace, '.pipe', 'validated');
  const stampValue = sha256(textHash + sha256(schemaText));
  let valid = false;
  try {
    valid = readFileSync(stamp, 'utf8') === stampValue;
  } catch {}
  if (!valid) {
    await validateWithSchema(config, schemaText, fileName, locator);
    writeFileAtomic(stamp, stampValue);
  }
  return { file, workspace, config, locator, textHash };
}

interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

async function validateWithSchema(config: unknown, schemaText: string, fileName: string, locator: SourceLocator) {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(schemaText));
  if (validate(config)) return;
  const errs = (validate.errors ?? []) as AjvError[];
  // A failed `oneOf` also reports why each branch failed; fold those into one line.
  const folded = new Set<AjvError>();
  const lines: string[] = [];
  for (const e of errs) {
    if (e.keyword !== 'oneOf') continue;
    const prefix = e.schemaPath.replace(/\/oneOf$/, '/oneOf/');
    const branches = errs.filter((b) => b !== e && b.schemaPath.startsWith(prefix) && b.instancePath.startsWith(e.instancePath));
    branches.forEach((b) => folded.add(b));
    folded.add(e);
    const why = [...new Set(branches.map((b) => describe(b, e.instancePath)))].join('; or ');
    lines.push(line(e.instancePath, `must match exactly one form (${why || 'see the schema'})`));
  }
  for (const e of errs) if (!folded.has(e)) lines.push(line(e.instancePath, describe(e, e.instancePath)));
  throw new ConfigErrors(fileName, [...new Set(lines)]);

  function line(instancePath: string, msg: string): string {
    const path = toPath(instancePath);
    return `${fileName}:${locator.at(path)}: ${SourceLocator.show(path)}: ${msg}`;
  }
}

function describe(e: AjvError, relativeTo: string): string {
  const sub = e.instancePath.slice(relativeTo.length);
  const where = sub ? `${SourceLocator.show(toPath(sub))} ` : '';
  switch (e.keyword) {
    case 'additionalProperties':
      return `${where}has unknown field "${String(e.params.additionalProperty)}"`;
    case 'required':
      return `${where}needs field "${String(e.params.missingProperty)}"`;
    case 'not':
      return `${where}must not have this combination of fields`;
    case 'enum':
      return `${where}must be one of ${JSON.stringify(e.params.allowedValues)}`;
    default:
      return `${where}${e.message ?? e.keyword}`;
  }
}

function toPath(instancePath: string): JsonPath {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}
