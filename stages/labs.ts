// labs (whole): every labelled dataset the study learns from and tests on, each from one lab, brought
// into one layout: images/<lab>/<CLASS>/<name>, plus labs.json (who labelled what, under which licence,
// and each image's lab, class, origin and session). Labels come from class folders, from a CSV of
// file → class, or from a CSV of smear → class with Pascal VOC boxes (cut out here). Everything
// downstream (segment, split, evaluate, report) reads the lab from this layout, never from a root path.
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage, StageError, type InputFile } from '../pipeline/stage-api.js';
import { parseCsv } from './lib/io/csv.js';
import { json } from './lib/io/item-files.js';
import { cropOne, readLabels, type CropRecord } from './lib/cell/voc-crop.js';
import { LABS_JSON, type LabImage, type LabsManifest, type LabSummary } from './lib/records/labs-manifest.js';

export type LabLabels =
  | { from: 'folders' }
  | { from: 'csv'; csv: string; fileColumn?: string; classColumn?: string }
  | { from: 'voc-boxes'; csv: string; margin?: number };

export interface LabSpec {
  /** Workspace-relative folder holding the images (class folders, files named by the CSV, or a VOC set). */
  root: string;
  licence: string;
  /** Who gave the labels, in words the report shows (e.g. "experts" or "ours, by eye"). */
  labelledBy: string;
  description?: string;
  /** Default: class folders. */
  labels?: LabLabels;
  /**
   * Regex on a file's stem whose first group names its capture session: near-duplicate frames of one
   * session never cross splits (e.g. Chula's `^([^_]+)_`). Without it, images group by content (or smear).
   */
  sessions?: string;
}

export interface LabsParams {
  classes: string[];
  /** Lab name → spec; the name is what every later stage and the report call the lab. */
  labs: Record<string, LabSpec>;
}

export const LAB_NAME = /^[a-z0-9][a-z0-9_.-]*$/;

const paramsSchema = {
  type: 'object',
  required: ['classes', 'labs'],
  properties: {
    classes: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    labs: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: LAB_NAME.source },
      additionalProperties: {
        type: 'object',
        required: ['root', 'licence', 'labelledBy'],
        properties: {
          root: { type: 'string', minLength: 1 },
          licence: { type: 'string', minLength: 1 },
          labelledBy: { type: 'string', minLength: 1 },
          description: { type: 'string' },
          sessions: { type: 'string' },
          labels: {
            type: 'object',
            required: ['from'],
            properties: {
              from: { enum: ['folders', 'csv', 'voc-boxes'] },
              csv: { type: 'string' },
              fileColumn: { type: 'string' },
              classColumn: { type: 'string' },
              margin: { type: 'number', minimum: 0, maximum: 2 },
            },
          },
        },
      },
    },
  },
};

const HIDDEN = /(^|\/)\./;

/** A flat, collision-free name for a file at `rel` inside a lab's root (sub-folders joined by `__`). */
function flatName(rel: string): string {
  return rel.split('/').join('__');
}

/** The images of one lab, with the bytes' source path (or the crop) to write. */
async function collectLab(
  name: string,
  spec: LabSpec,
  classes: string[],
  inputs: InputFile[],
  workspace: string,
): Promise<Array<LabImage & { copyFrom?: string; bytes?: Buffer }>> {
  const root = path.resolve(workspace, spec.root);
  const where = `labs.${name}`;
  if (!existsSync(root)) throw new StageError(`root "${spec.root}" does not exist`, `${where}.root`);
  const inRoot = inputs.filter((f) => f.path.startsWith(root + path.sep)).map((f) => ({ f, rel: path.relative(root, f.path).split(path.sep).join('/') }));
  const labels = spec.labels ?? { from: 'folders' };
  const out: Array<LabImage & { copyFrom?: string; bytes?: Buffer }> = [];
  const origin = (p: string) => path.relative(workspace, p).split(path.sep).join('/');
  const requireInput = (csv: string) => {
    const abs = path.resolve(workspace, csv);
    if (!existsSync(abs)) throw new StageError(`labels CSV "${csv}" not found`, `${where}.labels.csv`);
    if (!inputs.some((f) => f.path === abs)) throw new StageError(`"${csv}" is not among the labs stage's inputs, so a change to it would not rerun the stage`, `${where}.labels.csv`);
    return readFileSync(abs, 'utf8');
  };
  if (labels.from === 'folders') {
    for (const { f, rel } of inRoot) {
      const parts = rel.split('/');
      if (parts.length !== 2 || HIDDEN.test(rel)) continue; // files at the root (licence, manifest) are not data
      const cls = parts[0]!;
      if (!classes.includes(cls)) continue;
      out.push({ file: `images/${name}/${cls}/${parts[1]}`, lab: name, class: cls, origin: origin(f.path), session: null, copyFrom: f.path });
    }
    const present = new Set(out.map((i) => i.class));
    if (present.size === 0) {
      const dirs = (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
      throw new StageError(`no images in class folders ${classes.join(', ')} (folders found: ${dirs.join(', ') || 'none'})`, `${where}.root`);
    }
  } else if (labels.from === 'csv') {
    const rows = parseCsv(requireInput(labels.csv), labels.csv);
    const fileCol = labels.fileColumn ?? 'file';
    const classCol = labels.classColumn ?? 'class';
    const byRel = new Map(inRoot.map((x) => [x.rel, x.f] as const));
    for (const [i, row] of rows.entries()) {
      const at = `${labels.csv} row ${i + 2}`;
      const file = row[fileCol];
      const cls = row[classCol];
      if (file === undefined || cls === undefined) throw new StageError(`needs columns "${fileCol}" and "${classCol}"`, at);
      if (!classes.includes(cls)) continue; // e.g. basophils: not a class of this study
      const input = byRel.get(file.split(path.sep).join('/'));
      if (!input) throw new StageError(`file "${file}" is not in ${spec.root}`, at);
      out.push({ file: `images/${name}/${cls}/${flatName(file)}`, lab: name, class: cls, origin: origin(input.path), session: null, copyFrom: input.path });
    }
  } else {
    const labelMap = readLabels(requireInput(labels.csv), labels.csv);
    const stems = new Set([...labelMap.keys()].map((k) => k.replace(/#.*$/, '')));
    const annotations = inRoot.filter(({ rel }) => rel.startsWith('Annotations/') && stems.has(path.basename(rel).replace(/\.xml$/i, '')));
    const problems: string[] = [];
    for (const { f } of annotations) {
      const files = await cropOne(f, { vocRoot: spec.root, labels: labels.csv, ...(labels.margin !== undefined ? { margin: labels.margin } : {}) }, labelMap, workspace);
      const record = JSON.parse(files[Object.keys(files).find((k) => k.startsWith('records/'))!] as string) as CropRecord;
      if (record.error) problems.push(`${f.rel}: ${record.error}`);
      for (const crop of record.crops) {
        if (!classes.includes(crop.class)) continue;
        out.push({ file: `images/${name}/${crop.file.replace(/^crops\//, '')}`, lab: name, class: crop.class, origin: record.image, session: null, bytes: files[crop.file] as Buffer });
      }
    }
    if (problems.length) throw new StageError(`${problems.length} annotation(s) could not be cut:\n  ${problems.slice(0, 5).join('\n  ')}`, where);
  }
  if (spec.sessions !== undefined) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(spec.sessions);
    } catch (e) {
      throw new StageError(`not a regular expression (${(e as Error).message})`, `${where}.sessions`);
    }
    // On the original file's own name, which is what a lab's naming scheme describes: the layout's name
    // is prefixed by its sub-folders (Chula's CSV names EOSINOPHIL/E-11_0675_0.jpg, laid out as
    // EOSINOPHIL__E-11_0675_0.jpg, so `^([^_]+)_` there made each class one "session").
    for (const img of out) {
      const stem = path.basename(img.origin).replace(/\.[^.]+$/, '');
      const m = pattern.exec(stem);
      img.session = m?.[1] ? `${name}/${m[1]}` : null;
    }
  }
  return out;
}

export default defineStage<LabsParams>({
  paramsSchema,
  async run(ctx) {
    const { classes, labs } = ctx.params;
    const images: LabImage[] = [];
    const summaries: LabSummary[] = [];
    const seen = new Map<string, string>();
    for (const [name, spec] of Object.entries(labs)) {
      const found = (await collectLab(name, spec, classes, ctx.inputs, ctx.workspace)).sort((a, b) => (a.file < b.file ? -1 : 1));
      let done = 0;
      for (const img of found) {
        if (seen.has(img.file)) throw new StageError(`two files become ${img.file} (${seen.get(img.file)} and ${img.origin})`, `labs.${name}`);
        seen.set(img.file, img.origin);
        const target = path.join(ctx.outDir, img.file);
        await mkdir(path.dirname(target), { recursive: true });
        if (img.bytes) await writeFile(target, img.bytes);
        else await copyFile(img.copyFrom!, target);
        images.push({ file: img.file, lab: img.lab, class: img.class, origin: img.origin, session: img.session });
        ctx.progress(++done, found.length, name);
      }
      const perClass: Record<string, number> = Object.fromEntries(classes.map((c) => [c, 0]));
      for (const img of found) perClass[img.class] = (perClass[img.class] ?? 0) + 1;
      const sessions = new Set(found.map((i) => i.session).filter((s) => s !== null));
      summaries.push({
        name,
        root: spec.root,
        licence: spec.licence,
        labelledBy: spec.labelledBy,
        description: spec.description ?? '',
        labels: (spec.labels ?? { from: 'folders' }).from,
        sessions: spec.sessions ?? null,
        images: found.length,
        perClass,
        sessionCount: spec.sessions !== undefined ? sessions.size : null,
      });
    }
    const manifest: LabsManifest = { classes, labs: summaries, images };
    await writeFile(path.join(ctx.outDir, LABS_JSON), json(manifest));
    ctx.log(summaries.map((s) => `${s.name}: ${s.images} images (labels: ${s.labelledBy})`).join('; '));
  },
});
