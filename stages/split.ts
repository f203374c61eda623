// split (whole): stratified by class, grouped by source image, stable under curation.
// A group's split is a pure function of its key (the original's sha256, or the smear a crop came
// from) and the seed: adding or removing images never moves any other group. Stratification holds
// per class in expectation (each class's groups are placed independently with the same fractions);
// split.json reports the realised counts. A cell segment could not find (status `fallback`: the
// unsegmented centre of the image) is not trained on unless `trainOnFallback` is set: it is a guess
// at a cell, and a blank or cell-less image would teach its folder's label to whatever it shows. In
// val and test it stays, so evaluation still sees what the model would meet.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage, StageError, type StageContext } from '../pipeline/stage-api.js';
import { unitHash } from './lib/random.js';
import { hammingDistance } from './lib/image/perceptual-hash.js';
import { fingerprintPath } from './lib/records/fingerprint.js';
import { cellKey, classAndStem, json } from './lib/io/item-files.js';
import { declaredDep } from './lib/deps/declared-dep.js';
import { labsOf, splitCsvPath, splitRowsToCsv, SPLITS, type SplitName, type SplitRow } from './lib/records/split-csv.js';
import { readLabsManifest } from './lib/records/labs-manifest.js';
import type { SegmentRecord } from './lib/records/segment-record.js';
import type { AugmentRecord } from './lib/records/augment-record.js';

export interface SplitParams {
  seed: number;
  fractions: Record<SplitName, number>;
  /** Also list the augmented variants of val/test sources (the original study did; off by default). */
  augmentEvalSplits: boolean;
  /**
   * Regex on a file's stem whose first capture group names its source image, for several crops cut
   * from one smear (voc-crops names them `<smear>__crop<k>`). Files that do not match group by content.
   */
  groupPattern?: string;
  /** Stage whose `cells/` the CSVs point at (default: normalize when it is a dep, else segment). */
  cellsFrom?: string;
  /**
   * With the fingerprint stage as a dep: originals whose perceptual hashes differ in at most this many
   * bits share a group (so a near-duplicate frame never lands in another split than its twin).
   */
  nearDuplicateBits?: number;
  /** Train on fallback cells (no cell found, the image's unsegmented centre) too; default false. */
  trainOnFallback?: boolean;
}

export interface GroupEntry {
  group: string;
  classes: string[];
  split: SplitName;
  members: string[];
}

const paramsSchema = {
  type: 'object',
  required: ['seed', 'fractions'],
  properties: {
    seed: { type: 'integer' },
    fractions: {
      type: 'object',
      required: ['train', 'val', 'test'],
      properties: { train: { type: 'number', minimum: 0 }, val: { type: 'number', minimum: 0 }, test: { type: 'number', minimum: 0 } },
      additionalProperties: false,
    },
    augmentEvalSplits: { type: 'boolean' },
    groupPattern: { type: 'string' },
    cellsFrom: { type: 'string' },
    nearDuplicateBits: { type: 'integer', minimum: 0, maximum: 32 },
    trainOnFallback: { type: 'boolean' },
  },
};

export const DEFAULT_GROUP_PATTERN = '^(.+)__crop\\d+$';

/** Group key of an original: its capture session, the smear it was cut from, else its content hash. */
export function groupKey(record: Pick<SegmentRecord, 'file' | 'sha256'>, pattern: RegExp, session?: string | null): string {
  if (session) return `session:${session}`;
  const m = pattern.exec(classAndStem(record.file).stem);
  return m?.[1] ? `image:${m[1]}` : `sha256:${record.sha256}`;
}

/** Split of a group: depends only on its key, the seed and the fractions. */
export function assignSplit(group: string, seed: number, fractions: Record<SplitName, number>): SplitName {
  const total = fractions.train + fractions.val + fractions.test;
  if (!(total > 0)) throw new StageError('fractions must sum to more than 0', 'split.fractions');
  const u = unitHash(`split:${seed}:${group}`) * total;
  return u < fractions.train ? 'train' : u < fractions.train + fractions.val ? 'val' : 'test';
}

export interface SplitInputs {
  records: SegmentRecord[];
  /** class/stem → augment record (only for cells that were augmented). */
  variants: Map<string, AugmentRecord>;
  cellsStage: string;
  augmentStage: string | null;
  /** The labs stage's id and each original's session (labs.json), when labs is a dep. */
  labsStage?: string | null;
  sessions?: Map<string, string | null>;
  /** Original file → perceptual hash (fingerprint stage), for grouping near duplicates. */
  phashes?: Map<string, string>;
}

export interface SplitResult {
  groups: GroupEntry[];
  rows: Record<SplitName, SplitRow[]>;
  excluded: Array<{ file: string; status: string; reason: string | null }>;
  counts: Record<SplitName, Record<string, { originals: number; variants: number }>>;
}

/** The whole split as a pure function of the records and params. */
export function computeSplit(inputs: SplitInputs, params: SplitParams): SplitResult {
  const pattern = new RegExp(params.groupPattern ?? DEFAULT_GROUP_PATTERN);
  const groups = new Map<string, GroupEntry>();
  const rows: Record<SplitName, SplitRow[]> = { train: [], val: [], test: [] };
  const counts: SplitResult['counts'] = { train: {}, val: {}, test: {} };
  const excluded: SplitResult['excluded'] = [];
  const sorted = [...inputs.records].sort((a, b) => (a.file < b.file ? -1 : 1));
  const keyOf = new Map(sorted.map((r) => [r.file, groupKey(r, pattern, inputs.sessions?.get(r.file))] as const));
  const merged = mergeNearDuplicates(sorted, keyOf, inputs.phashes, params.nearDuplicateBits);
  for (const r of sorted) {
    if (!r.cell || (r.status !== 'ok' && r.status !== 'fallback')) {
      excluded.push({ file: r.file, status: r.status, reason: r.reason });
      continue;
    }
    const own = keyOf.get(r.file)!;
    const group = merged.get(own) ?? own;
    const split = assignSplit(group, params.seed, params.fractions);
    if (r.status === 'fallback' && split === 'train' && !params.trainOnFallback) {
      excluded.push({ file: r.file, status: r.status, reason: `no cell found (${r.reason ?? 'fallback'}); not trained on (split.trainOnFallback is false)` });
      continue;
    }
    const entry = groups.get(group) ?? { group, classes: [], split, members: [] };
    groups.set(group, entry);
    if (!entry.classes.includes(r.class)) entry.classes.push(r.class);
    const base = { class: r.class, lab: r.lab, group, origin: inputs.labsStage ? `${inputs.labsStage}/${r.file}` : r.file };
    const cellFile = `${inputs.cellsStage}/${r.cell}`;
    rows[split].push({ file: cellFile, ...base });
    entry.members.push(cellFile);
    const c = (counts[split][r.class] ??= { originals: 0, variants: 0 });
    c.originals++;
    if (split === 'train' || params.augmentEvalSplits) {
      const aug = inputs.variants.get(cellKey(r.cell).key);
      for (const v of aug?.variants ?? []) {
        const file = `${inputs.augmentStage}/${v.file}`;
        rows[split].push({ file, ...base });
        entry.members.push(file);
        c.variants++;
      }
    }
  }
  return { groups: [...groups.values()].sort((a, b) => (a.group < b.group ? -1 : 1)), rows, excluded, counts };
}

/**
 * Group key → the key of its near-duplicate cluster (the smallest key in it), for groups holding
 * originals within `bits` of each other; groups without a near twin keep their key.
 */
export function mergeNearDuplicates(records: readonly SegmentRecord[], keyOf: Map<string, string>, phashes: Map<string, string> | undefined, bits: number | undefined): Map<string, string> {
  const parent = new Map<string, string>();
  if (!phashes || bits === undefined) return parent;
  const find = (k: string): string => {
    let r = k;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  const hashed = records.flatMap((r) => (phashes.get(r.file) ? [{ key: keyOf.get(r.file)!, hash: phashes.get(r.file)! }] : []));
  for (let i = 0; i < hashed.length; i++) {
    for (let j = i + 1; j < hashed.length; j++) {
      const a = hashed[i]!, b = hashed[j]!;
      if (a.key === b.key || hammingDistance(a.hash, b.hash) > bits) continue;
      const ra = find(a.key), rb = find(b.key);
      if (ra !== rb) (ra < rb ? parent.set(rb, ra) : parent.set(ra, rb));
    }
  }
  const out = new Map<string, string>();
  for (const k of parent.keys()) out.set(k, find(k));
  return out;
}

async function readInputs(ctx: StageContext<SplitParams>): Promise<SplitInputs> {
  const segment = declaredDep(ctx, 'segment');
  if (!segment) throw new StageError('split needs the segment stage as a dep', ctx.instanceId);
  const recordsFile = path.join(segment.dir, 'records.jsonl');
  if (!existsSync(recordsFile)) throw new StageError('segment produced no records.jsonl', recordsFile);
  const records = (await readFile(recordsFile, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as SegmentRecord);
  const cellsDep = ctx.params.cellsFrom ? declaredDep(ctx, ctx.params.cellsFrom) : declaredDep(ctx, 'normalize') ?? segment;
  if (!cellsDep) throw new StageError(`"${ctx.params.cellsFrom}" is not a dep of split`, 'split.cellsFrom');
  const augment = declaredDep(ctx, 'augment');
  const variants = new Map<string, AugmentRecord>();
  for (const r of records) {
    if (!r.cell) continue;
    if (!existsSync(path.join(cellsDep.dir, r.cell))) {
      throw new StageError(`cell ${r.cell} of ${r.file} is missing from ${cellsDep.stageId}'s outputs`, ctx.instanceId);
    }
    if (!augment) continue;
    const { key } = cellKey(r.cell);
    const recFile = path.join(augment.dir, 'variants', `${key}.json`);
    if (existsSync(recFile)) variants.set(key, JSON.parse(await readFile(recFile, 'utf8')));
  }
  const phashes = await nearDuplicateHashes(ctx, records);
  const labs = declaredDep(ctx, 'labs');
  const sessions = labs ? new Map(readLabsManifest(labs.dir).images.map((i) => [i.file, i.session] as const)) : undefined;
  return { records, variants, cellsStage: cellsDep.stageId, augmentStage: augment?.stageId ?? null, labsStage: labs?.stageId ?? null, ...(sessions ? { sessions } : {}), ...(phashes ? { phashes } : {}) };
}

/** Perceptual hashes of the originals from the fingerprint dep, when split groups near duplicates. */
async function nearDuplicateHashes(ctx: StageContext<SplitParams>, records: SegmentRecord[]): Promise<Map<string, string> | undefined> {
  const prints = declaredDep(ctx, 'fingerprint');
  if (!prints || ctx.params.nearDuplicateBits === undefined) return undefined;
  const out = new Map<string, string>();
  for (const r of records) {
    const file = path.join(prints.dir, fingerprintPath(r.file));
    if (!existsSync(file)) continue;
    const phash = (JSON.parse(await readFile(file, 'utf8')) as { phash?: string }).phash;
    if (phash) out.set(r.file, phash);
  }
  return out;
}

export default defineStage<SplitParams>({
  paramsSchema,
  async run(ctx) {
    const inputs = await readInputs(ctx);
    const result = computeSplit(inputs, ctx.params);
    for (const s of SPLITS) await writeFile(splitCsvPath(ctx.outDir, s), splitRowsToCsv(result.rows[s]));
    await writeFile(
      path.join(ctx.outDir, 'split.json'),
      json({
        seed: ctx.params.seed,
        fractions: ctx.params.fractions,
        augmentEvalSplits: ctx.params.augmentEvalSplits,
        cellsFrom: inputs.cellsStage,
        counts: result.counts,
        excluded: result.excluded,
        groups: result.groups,
      }),
    );
    const n = (s: SplitName) => result.rows[s].length;
    const labs = labsOf(SPLITS.flatMap((s) => result.rows[s]));
    ctx.log(`train ${n('train')} / val ${n('val')} / test ${n('test')} rows of ${labs.length} lab(s) (${labs.join(', ')}); ${result.groups.length} groups; ${result.excluded.length} excluded`);
    const untrained = result.excluded.filter((e) => e.status === 'fallback').map((e) => e.file);
    if (untrained.length) {
      ctx.warn(`${untrained.length} fallback cell(s) (segment found no cell) left out of train: ${untrained.slice(0, 5).join(', ')}${untrained.length > 5 ? ', …' : ''} (split.json lists them; split.trainOnFallback=true trains on them)`);
    }
  },
});
