// Which models are worth averaging? Reads every evaluate instance's predictions.csv in a workspace and
// prints, for each combination of up to --max evaluated models, the accuracy and balanced accuracy per
// source that the mean of their probabilities gives (what an `ensemble` stage with those members would
// score, without training or running anything). Prints Markdown for bench/results/robustness.md.
//
//   node --import tsx bench/ensemble-combinations.ts [--workspace <dir>] [--max 3] [--only <substring>]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCsvRows } from '../stages/lib/io/csv.js';

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const stagesDir = join(resolve(flag('--workspace') ?? process.cwd()), 'artifacts', 'stages');
const maxMembers = Number(flag('--max') ?? 3);
const only = flag('--only');

interface Row {
  source: string;
  truth: string;
  probabilities: number[];
}

const models = new Map<string, Map<string, Row>>();
let classes: string[] = [];
for (const dir of readdirSync(stagesDir).filter((d) => d.startsWith('evaluate[')).sort()) {
  if (only && !dir.includes(only)) continue;
  if (dir.includes('mode=ensemble')) continue; // its members are listed themselves
  const file = join(stagesDir, dir, 'predictions.csv');
  if (!existsSync(file)) continue;
  const [header, ...rows] = parseCsvRows(readFileSync(file, 'utf8'));
  if (!header || rows.length === 0) continue;
  const pCols = header.flatMap((h, i) => (h.startsWith('p_') ? [i] : []));
  classes = pCols.map((i) => header[i]!.slice(2));
  models.set(
    dir.slice('evaluate'.length),
    new Map(rows.map((r) => [`${r[1]}\u0000${r[0]}`, { source: r[1]!, truth: r[2]!, probabilities: pCols.map((i) => Number(r[i])) }])),
  );
}
if (models.size === 0) {
  console.error(`no evaluated model with predictions under ${stagesDir}; run \`npx pipe run\` first`);
  process.exit(1);
}

function combinations<T>(items: T[], k: number): T[][] {
  if (k === 0) return [[]];
  return items.flatMap((x, i) => combinations(items.slice(i + 1), k - 1).map((rest) => [x, ...rest]));
}

/** Accuracy and balanced accuracy (mean recall over the classes present) per source. */
function score(members: string[]): Map<string, { accuracy: number; balanced: number; n: number }> {
  const rows = members.map((m) => models.get(m)!);
  const tallies = new Map<string, Map<string, [number, number]>>();
  for (const [key, first] of rows[0]!) {
    if (!rows.every((r) => r.has(key))) continue;
    const sum = classes.map((_, c) => rows.reduce((s, r) => s + r.get(key)!.probabilities[c]!, 0));
    const predicted = classes[sum.indexOf(Math.max(...sum))];
    const perClass = tallies.get(first.source) ?? new Map<string, [number, number]>();
    tallies.set(first.source, perClass);
    const t = perClass.get(first.truth) ?? [0, 0];
    perClass.set(first.truth, [t[0] + (predicted === first.truth ? 1 : 0), t[1] + 1]);
  }
  const out = new Map<string, { accuracy: number; balanced: number; n: number }>();
  for (const [source, perClass] of tallies) {
    const counts = [...perClass.values()];
    const n = counts.reduce((s, [, total]) => s + total, 0);
    out.set(source, {
      accuracy: counts.reduce((s, [ok]) => s + ok, 0) / n,
      balanced: counts.reduce((s, [ok, total]) => s + ok / total, 0) / counts.length,
      n,
    });
  }
  return out;
}

const names = [...models.keys()];
const sources = [...score([names[0]!]).keys()];
console.log(`| members (mean of probabilities) | ${sources.map((s) => `${s} acc / bal.`).join(' | ')} |`);
console.log(`|---|${sources.map(() => '---').join('|')}|`);
for (let k = 1; k <= Math.min(maxMembers, names.length); k++) {
  for (const members of combinations(names, k)) {
    const s = score(members);
    const cells = sources.map((src) => {
      const v = s.get(src);
      return v ? `${(100 * v.accuracy).toFixed(1)} / ${(100 * v.balanced).toFixed(1)}` : 'n/a';
    });
    console.log(`| ${members.join(' + ')} | ${cells.join(' | ')} |`);
  }
}
