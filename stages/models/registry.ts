// Looks architectures up by name in the explicit family list (families.ts).
import type { ArchSpec } from './arch-spec.js';
import { FAMILIES } from './families.js';

let byName: Map<string, ArchSpec> | undefined;

/** Name → spec over every family; a name listed twice is a programming error, refused at first use. */
function index(): Map<string, ArchSpec> {
  if (byName) return byName;
  const map = new Map<string, ArchSpec>();
  for (const family of FAMILIES) {
    for (const spec of family.architectures) {
      const other = map.get(spec.name);
      if (other) throw new Error(`architecture ${JSON.stringify(spec.name)} is listed by both the ${other.family} and the ${family.file} family`);
      map.set(spec.name, spec);
    }
  }
  byName = map;
  return map;
}

/** Every architecture of every family, sorted by name. */
export async function listArchitectures(): Promise<ArchSpec[]> {
  return [...index().values()].sort((a, b) => a.name.localeCompare(b.name));
}

export async function listArchitectureNames(): Promise<string[]> {
  return (await listArchitectures()).map((spec) => spec.name);
}

/** The architecture called `name` (as in pipeline.json); throws naming the known ones otherwise. */
export async function getArchitecture(name: string): Promise<ArchSpec> {
  const spec = index().get(name);
  if (spec) return spec;
  const known = await listArchitectureNames();
  throw new Error(
    `unknown architecture ${JSON.stringify(name)} (known: ${known.join(', ')}); ` +
      `an architecture lives in a family file under stages/models/, listed in stages/models/families.ts`,
  );
}
