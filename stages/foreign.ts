// foreign (whole): real images from another lab, labelled per image by a person, as held-out test sets
// in the shifted stage's layout (sets/<source>/<CLASS>/*.png + sets.json), so evaluate classifies them
// through the predict path and the report shows them beside the same-source and simulated figures.
//
// The default set is BCCD (other microscope, camera, stain and scale than PBC): each labelled smear's
// leukocyte box cut out with a margin, red cells and all; the subtype labels are ours, given by eye
// (data/bccd/LABELS.md says how, and how sure). A whole stage, so the labels file is part of its key.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage, StageError, type InputFile } from '../pipeline/stage-api.js';
import { json } from './lib/io/item-files.js';
import { cropOne, readLabels, type CropRecord } from './lib/cell/voc-crop.js';

export interface ForeignSet {
  /** Source name in the metrics and the report, e.g. `bccd-by-eye`. */
  source: string;
  description: string;
  /** Pascal VOC folder (Annotations/, JPEGImages/), workspace-relative. */
  vocRoot: string;
  /** CSV `image,class[,object]`, workspace-relative. */
  labels: string;
  objectNames?: string[];
  margin?: number;
}

export interface ForeignParams {
  sets: ForeignSet[];
}

const paramsSchema = {
  type: 'object',
  required: ['sets'],
  properties: {
    sets: {
      type: 'array',
      items: {
        type: 'object',
        required: ['source', 'description', 'vocRoot', 'labels'],
        properties: {
          source: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
          description: { type: 'string' },
          vocRoot: { type: 'string' },
          labels: { type: 'string' },
          objectNames: { type: 'array', items: { type: 'string' } },
          margin: { type: 'number', minimum: 0, maximum: 2 },
        },
      },
    },
  },
};

export default defineStage<ForeignParams>({
  paramsSchema,
  async run(ctx) {
    const items: { source: string; file: string; class: string; origin: string }[] = [];
    const sets = [];
    for (const set of ctx.params.sets) {
      const labelsPath = path.resolve(ctx.workspace, set.labels);
      if (!existsSync(labelsPath)) throw new StageError('labels CSV not found', `${ctx.instanceId} params.sets[${set.source}].labels: ${set.labels}`);
      if (!ctx.inputs.some((f) => f.path === labelsPath)) {
        throw new StageError(`is not among the stage's inputs, so a change to it would not rerun the stage; add it to "inputs" in pipeline.json`, set.labels);
      }
      const labels = readLabels(readFileSync(labelsPath, 'utf8'), set.labels);
      const labelledStems = new Set([...labels.keys()].map((k) => k.replace(/#.*$/, '')));
      const annotationsDir = path.resolve(ctx.workspace, set.vocRoot, 'Annotations');
      // The stage's inputs must cover the annotations, images and labels, so that they are in its key.
      const annotations = ctx.inputs.filter((f: InputFile) => path.dirname(f.path) === annotationsDir && labelledStems.has(path.basename(f.rel).replace(/\.xml$/i, '')));
      const missing = [...labelledStems].filter((stem) => !annotations.some((f) => path.basename(f.rel).startsWith(`${stem}.`)));
      if (missing.length) throw new StageError(`${missing.length} labelled image(s) have no annotation among the stage's inputs (first: ${missing[0]})`, set.labels);
      const perClass: Record<string, number> = {};
      const problems: string[] = [];
      let done = 0;
      for (const annotation of annotations) {
        const files = await cropOne(annotation, { vocRoot: set.vocRoot, labels: set.labels, ...(set.objectNames ? { objectNames: set.objectNames } : {}), ...(set.margin !== undefined ? { margin: set.margin } : {}) }, labels, ctx.workspace);
        const recordFile = Object.keys(files).find((f) => f.startsWith('records/'))!;
        const record = JSON.parse(files[recordFile] as string) as CropRecord;
        if (record.error) problems.push(`${annotation.rel}: ${record.error}`);
        for (const crop of record.crops) {
          const file = `sets/${set.source}/${crop.file.replace(/^crops\//, '')}`;
          await mkdir(path.dirname(path.join(ctx.outDir, file)), { recursive: true });
          await writeFile(path.join(ctx.outDir, file), files[crop.file]!);
          items.push({ source: set.source, file, class: crop.class, origin: record.image });
          perClass[crop.class] = (perClass[crop.class] ?? 0) + 1;
        }
        ctx.progress(++done, annotations.length, set.source);
      }
      if (problems.length) throw new StageError(`${problems.length} annotation(s) could not be cut:\n  ${problems.slice(0, 5).join('\n  ')}`, set.source);
      sets.push({ source: set.source, dir: `sets/${set.source}`, description: set.description, labels: set.labels, images: Object.values(perClass).reduce((a, b) => a + b, 0), perClass });
    }
    await writeFile(path.join(ctx.outDir, 'sets.json'), json({ note: 'Real images from other sources, labelled per image (see each set\'s labels file).', sets, items }));
    ctx.log(sets.map((s) => `${s.source}: ${s.images} images (${Object.entries(s.perClass).map(([c, n]) => `${c} ${n}`).join(', ')})`).join('; '));
  },
});
