// audit (whole): the data-quality report. Exact duplicates (sha256) and near duplicates (pHash)
// within and across splits and classes, undecodable and non-image files, class balance, sizes.
// A duplicate that crosses splits is leakage (the original study's val and test sets shared
// images), so it fails the run naming both files unless `allowCrossSplitDuplicates` is set. The same
// bytes filed under two classes is a labelling error (both labels would be trained on), so it fails
// too unless `allowConflictingLabels` is set; near duplicates under two classes may be two different
// cells that look alike (the pHash sees only coarse structure), so those are a warning.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage, StageError, type InputFile } from '../pipeline/stage-api.js';
import { fingerprintFile, fingerprintPath, type Fingerprint } from './lib/records/fingerprint.js';
import { hammingDistance } from './lib/image/perceptual-hash.js';
import { json } from './lib/io/item-files.js';
import { declaredDep } from './lib/deps/declared-dep.js';
import { readSplitCsv, splitCsvPath, SPLITS, type SplitName } from './lib/records/split-csv.js';

export interface AuditParams {
  /** A dataset folder in the workspace; without it, the images the labs stage laid out (its inputs from labs). */
  dataRoot?: string;
  /** Two images whose pHashes differ in at most this many of 64 bits are near duplicates. */
  nearDuplicateBits: number;
  allowCrossSplitDuplicates: boolean;
  /** Accept exact duplicates (same sha256) filed under different classes; default false. */
  allowConflictingLabels?: boolean;
  classes?: string[];
}

export interface AuditedFile {
  /** Path relative to dataRoot, e.g. `EOSINOPHIL/EO_1.jpg`, or `<lab>/EOSINOPHIL/EO_1.jpg` from the labs stage. */
  file: string;
  class: string;
  lab: string;
  sha256: string;
  split: SplitName | null;
  kind: 'image' | 'undecodable' | 'not-image';
  reason?: string;
  width?: number;
  height?: number;
  phash?: string;
}

export interface DuplicatePair {
  kind: 'exact' | 'near';
  a: string;
  b: string;
  distance: number;
  crossSplit: boolean;
  crossClass: boolean;
  splits: [SplitName | null, SplitName | null];
}

const paramsSchema = {
  type: 'object',
  properties: {
    dataRoot: { type: 'string' },
    nearDuplicateBits: { type: 'integer', minimum: 0, maximum: 32 },
    allowCrossSplitDuplicates: { type: 'boolean' },
    allowConflictingLabels: { type: 'boolean' },
    classes: { type: 'array', items: { type: 'string' } },
  },
};

/** One file of the dataset as audited: `known` (this content's fingerprint, already made), or one made here. */
export async function auditFile(input: { path: string; hash: string }, rel: string, split: SplitName | null, known?: Fingerprint | null): Promise<AuditedFile> {
  const print = known ?? (await fingerprintFile(input, rel));
  const { sha256, ...rest } = print;
  const parts = rel.split('/');
  return { file: rel, class: parts[parts.length - 2] ?? '', lab: parts[parts.length - 3] ?? '', sha256, split, ...rest };
}

/** Every exact and near duplicate pair among decodable images. */
export function findDuplicates(files: AuditedFile[], nearBits: number): DuplicatePair[] {
  const pairs: DuplicatePair[] = [];
  const images = files.filter((f) => f.kind === 'image').sort((a, b) => (a.file < b.file ? -1 : 1));
  const pair = (kind: DuplicatePair['kind'], a: AuditedFile, b: AuditedFile, distance: number): DuplicatePair => ({
    kind,
    a: a.file,
    b: b.file,
    distance,
    crossSplit: a.split !== b.split,
    crossClass: a.class !== b.class,
    splits: [a.split, b.split],
  });
  for (let i = 0; i < images.length; i++) {
    const a = images[i]!;
    for (let j = i + 1; j < images.length; j++) {
      const b = images[j]!;
      if (a.sha256 === b.sha256) pairs.push(pair('exact', a, b, 0));
      else if (a.phash && b.phash) {
        const d = hammingDistance(a.phash, b.phash);
        if (d <= nearBits) pairs.push(pair('near', a, b, d));
      }
    }
  }
  return pairs;
}

/** Origin path (as segment named it) → split, from the split stage's CSVs (originals only). */
async function splitsByOrigin(dir: string): Promise<Map<string, SplitName>> {
  const out = new Map<string, SplitName>();
  for (const s of SPLITS) {
    const csv = splitCsvPath(dir, s);
    if (!existsSync(csv)) continue;
    for (const row of readSplitCsv(csv)) {
      const prev = out.get(row.origin);
      if (prev && prev !== s) out.set(row.origin, prev); // audit reports it below through the pair check
      else out.set(row.origin, s);
    }
  }
  return out;
}

export interface AuditReport {
  dataRoot: string;
  /** Images per lab and class (labs stage input). */
  labBalance: Record<string, Record<string, number>>;
  files: number;
  images: number;
  undecodable: Array<{ file: string; reason: string }>;
  notImages: Array<{ file: string; reason: string }>;
  unknownClasses: string[];
  emptyClasses: string[];
  classBalance: Record<string, number>;
  splitBalance: Record<string, Record<string, number>>;
  sizes: Record<string, { min: [number, number]; median: [number, number]; max: [number, number] }>;
  duplicates: DuplicatePair[];
  crossSplitDuplicates: DuplicatePair[];
  /** Exact duplicates (same bytes) filed under different classes: one image, two labels. */
  conflictingLabels: DuplicatePair[];
  /** Files that appear in more than one split's CSV (the study's flaw, in its most direct form). */
  sharedAcrossSplits: Array<{ file: string; splits: SplitName[] }>;
  segmentation: unknown;
}

export function buildReport(params: AuditParams, files: AuditedFile[], classes: string[], sharedAcrossSplits: AuditReport['sharedAcrossSplits'], segmentation: unknown): AuditReport {
  const images = files.filter((f) => f.kind === 'image');
  const duplicates = findDuplicates(files, params.nearDuplicateBits ?? 4);
  const classBalance: Record<string, number> = {};
  for (const c of classes) classBalance[c] = 0;
  for (const f of images) classBalance[f.class] = (classBalance[f.class] ?? 0) + 1;
  const splitBalance: Record<string, Record<string, number>> = {};
  for (const f of images) {
    const s = f.split ?? 'none';
    (splitBalance[s] ??= {})[f.class] = (splitBalance[s]![f.class] ?? 0) + 1;
  }
  const sizes: AuditReport['sizes'] = {};
  for (const c of new Set(images.map((f) => f.class))) {
    const ws = images.filter((f) => f.class === c && f.width).map((f) => [f.width!, f.height!] as [number, number]);
    ws.sort((a, b) => a[0] * a[1] - b[0] * b[1]);
    if (ws.length) sizes[c] = { min: ws[0]!, median: ws[Math.floor(ws.length / 2)]!, max: ws[ws.length - 1]! };
  }
  const present = new Set(files.map((f) => f.class));
  const labBalance: Record<string, Record<string, number>> = {};
  for (const f of images) if (f.lab) (labBalance[f.lab] ??= {})[f.class] = (labBalance[f.lab]![f.class] ?? 0) + 1;
  return {
    dataRoot: params.dataRoot ?? `labs: ${Object.keys(labBalance).join(', ')}`,
    labBalance,
    files: files.length,
    images: images.length,
    undecodable: files.filter((f) => f.kind === 'undecodable').map((f) => ({ file: f.file, reason: f.reason ?? '' })),
    notImages: files.filter((f) => f.kind === 'not-image').map((f) => ({ file: f.file, reason: f.reason ?? '' })),
    unknownClasses: [...present].filter((c) => !classes.includes(c)).sort(),
    emptyClasses: classes.filter((c) => !images.some((f) => f.class === c)),
    classBalance,
    splitBalance,
    sizes,
    duplicates,
    crossSplitDuplicates: duplicates.filter((d) => d.crossSplit && d.splits[0] !== null && d.splits[1] !== null),
    conflictingLabels: duplicates.filter((d) => d.kind === 'exact' && d.crossClass),
    sharedAcrossSplits,
    segmentation,
  };
}

export function reportMarkdown(r: AuditReport): string {
  const lines = [`# Data audit: ${r.dataRoot}`, '', `${r.images} images in ${r.files} files.`, ''];
  const labs = Object.keys(r.labBalance ?? {});
  if (labs.length) {
    const classes = Object.keys(r.classBalance);
    lines.push('## Labs', '', `| lab | ${classes.join(' | ')} |`, `|---|${classes.map(() => '--:|').join('')}`);
    for (const lab of labs) lines.push(`| ${lab} | ${classes.map((c) => r.labBalance[lab]?.[c] ?? 0).join(' | ')} |`);
    lines.push('');
  }
  lines.push('## Class balance', '', '| class | images |', '|---|---|');
  for (const [c, n] of Object.entries(r.classBalance)) lines.push(`| ${c} | ${n} |`);
  lines.push('', '## Split balance (originals)', '', '| split | ' + Object.keys(r.classBalance).join(' | ') + ' |', '|---|' + Object.keys(r.classBalance).map(() => '---|').join(''));
  for (const [s, counts] of Object.entries(r.splitBalance)) lines.push(`| ${s} | ` + Object.keys(r.classBalance).map((c) => counts[c] ?? 0).join(' | ') + ' |');
  lines.push('', '## Image sizes (w×h)', '', '| class | min | median | max |', '|---|---|---|---|');
  for (const [c, s] of Object.entries(r.sizes)) lines.push(`| ${c} | ${s.min.join('×')} | ${s.median.join('×')} | ${s.max.join('×')} |`);
  lines.push('', '## Duplicates', '');
  const exact = r.duplicates.filter((d) => d.kind === 'exact');
  const near = r.duplicates.filter((d) => d.kind === 'near');
  lines.push(`- exact (same sha256): ${exact.length} pairs`, `- near (pHash distance ≤ threshold): ${near.length} pairs`, `- crossing splits: **${r.crossSplitDuplicates.length}**`, `- the same bytes under two classes: **${r.conflictingLabels.length}**`, `- files listed in more than one split: **${r.sharedAcrossSplits.length}**`);
  for (const d of r.duplicates.slice(0, 50)) {
    lines.push(`  - ${d.kind} (${d.distance} bits): ${d.a} [${d.splits[0] ?? '-'}] ↔ ${d.b} [${d.splits[1] ?? '-'}]${d.crossSplit ? ' CROSS-SPLIT' : ''}${d.crossClass ? ' CROSS-CLASS' : ''}`);
  }
  if (r.duplicates.length > 50) lines.push(`  - … ${r.duplicates.length - 50} more in audit.json`);
  lines.push('', '## Problem files', '');
  for (const f of r.undecodable) lines.push(`- undecodable: ${f.file} — ${f.reason}`);
  for (const f of r.notImages) lines.push(`- not an image: ${f.file} — ${f.reason}`);
  for (const c of r.unknownClasses) lines.push(`- class folder not in the class list: ${c}`);
  for (const c of r.emptyClasses) lines.push(`- empty class: ${c}`);
  if (!r.undecodable.length && !r.notImages.length && !r.unknownClasses.length && !r.emptyClasses.length) lines.push('None.');
  return lines.join('\n') + '\n';
}

/** The failure message for leakage, naming both files of the first few offending pairs. */
export function leakageMessage(r: AuditReport): string | null {
  const items = [
    ...r.sharedAcrossSplits.map((s) => `${s.file} is listed in ${s.splits.join(' and ')}`),
    ...r.crossSplitDuplicates.map((d) => `${d.kind} duplicate${d.kind === 'near' ? ` (${d.distance} bits)` : ''}: ${d.a} (${d.splits[0]}) and ${d.b} (${d.splits[1]})`),
  ];
  if (items.length === 0) return null;
  const shown = items.slice(0, 10).map((s) => `  - ${s}`).join('\n');
  return `${items.length} duplicate(s) cross splits (leakage between train/val/test):\n${shown}${items.length > 10 ? `\n  … ${items.length - 10} more in audit.json` : ''}\nRemove one of each pair, or set audit.allowCrossSplitDuplicates=true to accept them.`;
}

/** The failure message for one image filed under two classes, naming both files and their classes. */
export function conflictMessage(r: AuditReport): string | null {
  const pairs = r.conflictingLabels;
  if (pairs.length === 0) return null;
  // Files are named <lab>/<CLASS>/<name> (or <CLASS>/<name> under dataRoot): the class is the folder.
  const classOf = (file: string) => file.split('/').slice(-2, -1)[0] ?? '?';
  const shown = pairs.slice(0, 10).map((d) => `  - ${d.a} (${classOf(d.a)}) and ${d.b} (${classOf(d.b)}) are the same file (sha256)`).join('\n');
  return (
    `${pairs.length} image(s) filed under two classes (both labels would be trained on):\n${shown}${pairs.length > 10 ? `\n  … ${pairs.length - 10} more in audit.json (conflictingLabels)` : ''}\n` +
    'Remove the copy with the wrong label, or set audit.allowConflictingLabels=true to accept them.'
  );
}

/** Near duplicates under different classes: said, not failed (two look-alike cells may really differ). */
function nearConflictWarning(r: AuditReport): string | null {
  const near = r.duplicates.filter((d) => d.kind === 'near' && d.crossClass);
  if (near.length === 0) return null;
  const shown = near.slice(0, 5).map((d) => `  - ${d.a} and ${d.b} (${d.distance} bits)`).join('\n');
  return `${near.length} near-duplicate pair(s) carry different classes; check that they are different cells:\n${shown}${near.length > 5 ? `\n  … ${near.length - 5} more in audit.md` : ''}`;
}

export default defineStage<AuditParams>({
  paramsSchema,
  async run(ctx) {
    const root = ctx.params.dataRoot ? path.resolve(ctx.workspace, ctx.params.dataRoot) : null;
    const segment = declaredDep(ctx, 'segment');
    const split = declaredDep(ctx, 'split');
    const segParams = segment ? await readJson(path.join(segment.dir, 'summary.json')) : null;
    const classes = ctx.params.classes ?? Object.keys((segParams as { byClass?: object } | null)?.byClass ?? {});
    const bySplit = split ? await splitsByOrigin(split.dir) : new Map<string, SplitName>();
    const sharedAcrossSplits = split ? await filesInSeveralSplits(split.dir) : [];
    // From the labs stage: images/<lab>/<CLASS>/<name>, named <lab>/<CLASS>/<name>; from a workspace root:
    // <CLASS>/<name> (files at the root, manifest and licence, are not data).
    const inRoot = (f: InputFile) => (root && !f.fromInstance ? path.relative(root, f.path).split(path.sep).join('/') : f.rel.replace(/^images\//, ''));
    const dataFiles = ctx.inputs.filter((f) => inRoot(f).split('/').length === (root && !f.fromInstance ? 2 : 3));
    const originOf = (f: InputFile) => (f.fromInstance ? `${f.fromInstance}/${f.rel}` : f.rel);
    // Fingerprints cached per file by the fingerprint stage, when it is a dep; any file it lacks (or
    // whose content differs) is fingerprinted here.
    const prints = declaredDep(ctx, 'fingerprint');
    const files: AuditedFile[] = [];
    let done = 0;
    let computed = 0;
    for (const f of dataFiles) {
      const cached = prints ? ((await readJson(path.join(prints.dir, fingerprintPath(f.rel)))) as Fingerprint | null) : null;
      const current = cached?.sha256 === f.hash ? cached : null;
      if (!current) computed += 1;
      files.push(await auditFile(f, inRoot(f), bySplit.get(originOf(f)) ?? null, current));
      ctx.progress(++done, dataFiles.length, f.rel);
    }
    if (prints && computed > 0) ctx.warn(`${computed} file(s) had no current fingerprint; computed here`);
    const report = buildReport(ctx.params, files, classes, sharedAcrossSplits, segParams);
    await writeFile(path.join(ctx.outDir, 'audit.json'), json(report));
    await writeFile(path.join(ctx.outDir, 'audit.md'), reportMarkdown(report));
    const leak = leakageMessage(report);
    const conflict = conflictMessage(report);
    const fatal = [leak && !ctx.params.allowCrossSplitDuplicates ? leak : null, conflict && !ctx.params.allowConflictingLabels ? conflict : null].filter(Boolean);
    if (fatal.length) throw new StageError(fatal.join('\n'), ctx.instanceId);
    if (leak) ctx.warn(leak);
    if (conflict) ctx.warn(conflict);
    const near = nearConflictWarning(report);
    if (near) ctx.warn(near);
    ctx.log(`${report.images} images, ${report.duplicates.length} duplicate pairs (${report.crossSplitDuplicates.length} cross-split, ${report.conflictingLabels.length} under two classes), ${report.undecodable.length} undecodable`);
  },
});

async function filesInSeveralSplits(dir: string): Promise<AuditReport['sharedAcrossSplits']> {
  const seen = new Map<string, Set<SplitName>>();
  for (const s of SPLITS) {
    const csv = splitCsvPath(dir, s);
    if (!existsSync(csv)) continue;
    for (const row of readSplitCsv(csv)) (seen.get(row.file) ?? seen.set(row.file, new Set()).get(row.file)!).add(s);
  }
  return [...seen].filter(([, s]) => s.size > 1).map(([file, s]) => ({ file, splits: [...s] }));
}

async function readJson(file: string): Promise<unknown> {
  return existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : null;
}
