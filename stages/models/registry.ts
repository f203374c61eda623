// Finds architectures by name without a hand-kept list: each family file in this folder exports
// `architectures: ArchSpec[]`, and an architecture name leads to its family file by its prefix
// (`densenet169` → densenet.ts, `mobilenet_v1_0.25` → mobilenet.ts, `inception_v3` → inception-v3.ts).
// Adding an architecture means adding or editing one family file. The dynamic import below is a
// template literal, which esbuild turns into a bundled map of this folder's files.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArchSpec } from './arch-spec.js';

/** Files of this folder that are not families. */
const SUPPORT_MODULES = new Set([
  'arch-spec',
  'batch-norm-without-scale',
  'classifier-head',
  'imagenet-weights',
  'keras-h5',
  'keras-names',
  'keras-weight-urls',
  'layer-factory',
  'preprocessing',
  'registry',
  'tfjs-weights-manifest',
  'weight-assignment',
]);
const FAMILY_NAME = /^[a-z][a-z0-9-]*$/;

const familyCache = new Map<string, Promise<ArchSpec[] | null>>();

/** Family files an architecture name may live in, most specific first. */
export function familyCandidates(archName: string): string[] {
  const parts = archName.toLowerCase().replace(/_/g, '-').split('-');
  const candidates: string[] = [];
  for (let n = parts.length; n >= 1; n--) {
    const prefix = parts.slice(0, n).join('-');
    candidates.push(prefix, prefix.replace(/\d+$/, ''));
  }
  return [...new Set(candidates)].filter((c) => FAMILY_NAME.test(c) && !SUPPORT_MODULES.has(c));
}

function isModuleNotFound(error: unknown, family: string): boolean {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string } | null)?.code;
  const notFound = code === 'ERR_MODULE_NOT_FOUND' || /not found in bundle|Cannot find module/i.test(message);
  return notFound && message.includes(`${family}.ts`);
}

/** The architectures a family file exports, or null when there is no such family file. */
function loadFamily(family: string): Promise<ArchSpec[] | null> {
  let pending = familyCache.get(family);
  if (!pending) {
    // Through `then` so that a bundle's synchronous "not found in bundle" throw becomes a rejection.
    pending = Promise.resolve()
      .then(() => import(`./${family}.ts`))
      .then(
        (module: { architectures?: ArchSpec[] }) => {
          if (!Array.isArray(module.architectures)) {
            throw new Error(`stages/models/${family}.ts does not export \`architectures: ArchSpec[]\``);
          }
          return module.architectures;
        },
        (error: unknown) => {
          if (isModuleNotFound(error, family)) return null;
          throw error;
        },
      );
    familyCache.set(family, pending);
  }
  return pending;
}

/** Family files present next to this module (source checkouts; empty inside a bundle). */
function familyFilesOnDisk(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dir = existsSync(path.join(here, 'registry.ts')) ? here : path.join(process.cwd(), 'stages', 'models');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .filter((f) => FAMILY_NAME.test(f) && !SUPPORT_MODULES.has(f))
    .sort();
}

/** Every architecture of every family file, sorted by name. */
export async function listArchitectures(): Promise<ArchSpec[]> {
  const families = await Promise.all(familyFilesOnDisk().map(loadFamily));
  return families.flatMap((specs) => specs ?? []).sort((a, b) => a.name.localeCompare(b.name));
}

export async function listArchitectureNames(): Promise<string[]> {
  return (await listArchitectures()).map((spec) => spec.name);
}

/** The architecture called `name` (as in pipeline.json); throws naming the known ones otherwise. */
export async function getArchitecture(name: string): Promise<ArchSpec> {
  for (const family of familyCandidates(name)) {
    const specs = await loadFamily(family);
    const spec = specs?.find((s) => s.name === name);
    if (spec) return spec;
  }
  const known = await listArchitectureNames().catch(() => []);
  throw new Error(
    `unknown architecture ${JSON.stringify(name)}` +
      (known.length ? ` (known: ${known.join(', ')})` : '') +
      `; an architecture lives in stages/models/<family>.ts, found by its name's prefix`,
  );
}
