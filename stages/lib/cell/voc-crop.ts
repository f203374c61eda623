// Pascal VOC annotations and the leukocyte crops cut from them: shared by the voc-crops stage and the
// labs and foreign stages, which crop VOC sets the same way.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { StageError, type InputFile } from '../../../pipeline/stage-api.js';
import { parseCsv } from '../io/csv.js';
import { classAndStem, json } from '../io/item-files.js';

export interface VocCropsParams {
  /** Folder holding `Annotations/*.xml` and `JPEGImages/`. */
  vocRoot: string;
  /** CSV of image → class (workspace-relative path). */
  labels: string;
  /** VOC object names to cut out. */
  objectNames?: string[];
  /** Fraction of the box's size added on every side (the cell's edge is often on the box). */
  margin?: number;
  /** Boxes smaller than this (px) on either side are skipped. */
  minBoxSide?: number;
}

export interface VocObject {
  name: string;
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

export interface VocAnnotation {
  filename: string;
  width: number | null;
  height: number | null;
  objects: VocObject[];
}

/** Parses the parts of a VOC annotation this stage needs; throws naming the missing element. */
export function parseVoc(xml: string, name = 'annotation'): VocAnnotation {
  const tag = (src: string, t: string) => new RegExp(`<${t}>\\s*([^<]*?)\\s*</${t}>`).exec(src)?.[1];
  const filename = tag(xml, 'filename');
  if (!filename) throw new StageError('no <filename> element', name);
  const size = /<size>([\s\S]*?)<\/size>/.exec(xml)?.[1] ?? '';
  const objects: VocObject[] = [];
  for (const m of xml.matchAll(/<object>([\s\S]*?)<\/object>/g)) {
    const body = m[1]!;
    const box = /<bndbox>([\s\S]*?)<\/bndbox>/.exec(body)?.[1];
    const objName = tag(body, 'name');
    if (!box || !objName) throw new StageError('an <object> lacks <name> or <bndbox>', name);
    const num = (t: string) => {
      const v = Number(tag(box, t));
      if (!Number.isFinite(v)) throw new StageError(`<${t}> of a "${objName}" box is not a number`, name);
      return v;
    };
    objects.push({ name: objName, xmin: num('xmin'), ymin: num('ymin'), xmax: num('xmax'), ymax: num('ymax') });
  }
  const n = (t: string) => (tag(size, t) ? Number(tag(size, t)) : null);
  return { filename, width: n('width'), height: n('height'), objects };
}

/** image (file name or stem) [+ object index] → class, from the user's CSV. */
export function readLabels(text: string, name: string): Map<string, string> {
  const rows = parseCsv(text, name);
  const out = new Map<string, string>();
  for (const [i, r] of rows.entries()) {
    if (!r.image || !r.class) throw new StageError(`row ${i + 2} needs "image" and "class" columns`, name);
    const stem = r.image.replace(/\.[^.]+$/, '');
    out.set(r.object ? `${stem}#${r.object}` : stem, r.class);
  }
  return out;
}

export interface CropRecord {
  annotation: string;
  image: string;
  crops: Array<{ file: string; class: string; object: number; box: [number, number, number, number] }>;
  skipped: Array<{ object: number; reason: string }>;
  error: string | null;
}

export async function cropOne(input: InputFile, params: VocCropsParams, labels: Map<string, string>, workspace: string): Promise<Record<string, Buffer | string>> {
  const { stem: annStem } = classAndStem(input.rel);
  const record: CropRecord = { annotation: input.rel, image: '', crops: [], skipped: [], error: null };
  const files: Record<string, Buffer | string> = {};
  const done = () => ({ ...files, [`records/${annStem}.json`]: json(record) });
  let ann: VocAnnotation;
  try {
    ann = parseVoc(await readFile(input.path, 'utf8'), input.rel);
  } catch (e) {
    record.error = (e as Error).message;
    return done();
  }
  const imagePath = path.resolve(workspace, params.vocRoot, 'JPEGImages', ann.filename);
  record.image = path.relative(workspace, imagePath).split(path.sep).join('/');
  if (!existsSync(imagePath)) {
    record.error = `image ${record.image} named by the annotation does not exist`;
    return done();
  }
  let meta;
  const bytes = await readFile(imagePath);
  try {
    meta = await sharp(bytes, { failOn: 'error' }).metadata();
  } catch (e) {
    record.error = `image ${record.image} is not readable (${String((e as Error).message).split('\n')[0]})`;
    return done();
  }
  const W = meta.width ?? 0, H = meta.height ?? 0;
  const imageStem = ann.filename.replace(/\.[^.]+$/, '');
  const wanted = params.objectNames ?? ['WBC'];
  const margin = params.margin ?? 0.15;
  const minSide = params.minBoxSide ?? 8;
  let k = 0;
  for (const o of ann.objects) {
    if (!wanted.includes(o.name)) continue;
    const index = k++;
    const cls = labels.get(`${imageStem}#${index}`) ?? labels.get(imageStem);
    if (!cls) {
      record.skipped.push({ object: index, reason: `no class for ${ann.filename} in ${params.labels}` });
      continue;
    }
    const bw = o.xmax - o.xmin, bh = o.ymax - o.ymin;
    if (bw < minSide || bh < minSide) {
      record.skipped.push({ object: index, reason: `box ${bw}×${bh} px is smaller than ${minSide} px` });
      continue;
    }
    const left = Math.max(0, Math.floor(o.xmin - margin * bw));
    const top = Math.max(0, Math.floor(o.ymin - margin * bh));
    const right = Math.min(W, Math.ceil(o.xmax + margin * bw));
    const bottom = Math.min(H, Math.ceil(o.ymax + margin * bh));
    if (right - left < minSide || bottom - top < minSide) {
      record.skipped.push({ object: index, reason: 'box lies outside the image' });
      continue;
    }
    const file = `crops/${cls}/${imageStem}__crop${index}.png`;
    files[file] = await sharp(bytes).extract({ left, top, width: right - left, height: bottom - top }).png({ compressionLevel: 9, adaptiveFiltering: false }).toBuffer();
    record.crops.push({ file, class: cls, object: index, box: [o.xmin, o.ymin, o.xmax, o.ymax] });
  }
  return done();
}
