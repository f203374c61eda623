// `pipe predict [--model <instance|path>] [--out <dir>] <image files or folders>…`
// Classifies raw images (any size; with the smear around the cell or already cut out on white) with a
// trained model, preparing each one exactly as the training data was prepared: canonical cell
// (segment's function) → stain normalisation (normalize's) → the model's input size and preprocessing.
// Without --model it takes, among the current evaluate outputs, the model whose backbone did best on labs it
// never saw (the cross-lab stage's headline), of that backbone's models the transfer head (the recipe that
// figure measured), then the best test accuracy, then the best mean accuracy over the other sources: a
// folder to classify most often comes from a lab the model was not trained on.
// Writes predictions.csv and predictions.json (class probabilities per image) and prints a summary.
// Images smaller than segment accepts are error rows, not classified; an image in which no cell was
// found is classified on its unsegmented centre and flagged as unreliable, in the line and the files.
// A model folder that is not a model, or whose files are broken, is an error naming the file.
import type { LayersModel } from '@tensorflow/tfjs';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { defineCommand, StageError, type CommandContext } from '../pipeline/stage-api.js';
import { initBackend } from './tf/backend.js';
import { argMax, predictProbabilities } from './lib/classifier/inference.js';
import { loadModelFromDirectory } from './lib/classifier/model-directory.js';
import { adaptFeatureStandardizations, featureStandardizations } from './lib/classifier/folder-adaptation.js';
import { selfTrainOnFolder, studyHead, type FolderCellSizes } from './lib/classifier/folder-self-training.js';
import { cellDiameter, median, relativeCellSize, takesCellSize } from './lib/classifier/cell-size.js';
import { SELF_TRAINING_DEFAULTS, type SelfTrainingSettings } from './lib/classifier/self-training.js';
import { preparedCellToInput } from './lib/classifier/raw-image-input.js';
import { PreparedCellCache } from './lib/classifier/prepared-cell-cache.js';
import { cellVariant, type AugmentParams } from './lib/shift/cell-variants.js';
import type { AugmentSettings } from './lib/records/augment-record.js';
import type { RgbImage } from './lib/image/raster.js';
import { encodePng } from './lib/image/decode.js';
import { createHash } from 'node:crypto';
import { MIN_SIDE } from './lib/cell/cell-representation.js';
import { headlineMean, type CrossLabAdaptation, type CrossLabRecord } from './lib/records/cross-lab-record.js';
import { csvField } from './lib/io/csv.js';
import { collectImages, collectLabelled } from './lib/io/image-files.js';
import { locateTrainedModel, MODEL_STAGES, TRAIN_JSON, type TrainRecord } from './lib/classifier/train-record.js';

export const USAGE =
  'pipe predict [--model <train or ensemble instance | evaluate instance | model folder>] [--out <folder>] [--batch-size <n>] [--adapt auto|self-training|adabn|none] [--adapt-with <image file or folder>]… [--labelled <folder of class folders>]… <image file or folder>…';

/** `--adapt auto` adapts only with at least this many classified images: fewer give noisy statistics. */
export const MIN_ADAPT_IMAGES = 32;

export type AdaptMode = 'auto' | 'self-training' | 'adabn' | 'none';
const ADAPT_MODES: readonly AdaptMode[] = ['auto', 'self-training', 'adabn', 'none'];

export interface PredictArgs {
  model: string | null;
  out: string;
  batchSize: number;
  backend: string | undefined;
  /** Test-time adaptation to the images given, as if they came from one lab (see MIN_ADAPT_IMAGES). */
  adapt: AdaptMode;
  /** More unlabelled images of the same lab that adaptation reads with the classified ones; they are not classified. */
  adaptWith: string[];
  /** Folders of class folders: cells of the same lab with their classes, which self-training trains on every round. */
  labelled: string[];
  inputs: string[];
}

export function parsePredictArgs(argv: string[]): PredictArgs {
  const args: PredictArgs = { model: null, out: '.', batchSize: 16, backend: undefined, adapt: 'auto', adaptWith: [], labelled: [], inputs: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new StageError(`${arg} needs a value`, 'pipe predict');
      return v;
    };
    if (arg === '--model' || arg === '-m') args.model = value();
    else if (arg === '--out' || arg === '-o') args.out = value();
    else if (arg === '--batch-size') {
      args.batchSize = Number(value());
      if (!Number.isInteger(args.batchSize) || args.batchSize < 1) throw new StageError('--batch-size must be a positive integer', 'pipe predict');
    } else if (arg === '--backend') args.backend = value();
    else if (arg === '--adapt') {
      const v = value();
      if (!(ADAPT_MODES as readonly string[]).includes(v)) throw new StageError(`--adapt must be auto, self-training, adabn or none, got ${v}`, 'pipe predict');
      args.adapt = v as AdaptMode;
    } else if (arg === '--adapt-with') args.adaptWith.push(value());
    else if (arg === '--labelled') args.labelled.push(value());
    else if (arg.startsWith('--')) throw new StageError(`unknown option ${arg}; usage: ${USAGE}`, 'pipe predict');
    else args.inputs.push(arg);
  }
  if (args.inputs.length === 0) throw new StageError(`no images given; usage: ${USAGE}`, 'pipe predict');
  if (args.adapt === 'none' && args.adaptWith.length) {
    throw new StageError('--adapt-with gives test-time adaptation more images of the lab, and --adapt none turns adaptation off: give one of them', 'pipe predict');
  }
  if ((args.adapt === 'none' || args.adapt === 'adabn') && args.labelled.length) {
    throw new StageError(`--labelled gives self-training the lab's labelled cells, and --adapt ${args.adapt} does not self-train: give --adapt auto or self-training`, 'pipe predict');
  }
  return args;
}

interface ChosenModel {
  label: string;
  root: string;
  modelDir: string;
  record: TrainRecord;
  testAccuracy?: number | null;
}

function readJson<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new StageError(`not valid JSON (${(error as Error).message})`, path);
  }
}

/** locateTrainedModel, its errors (they name the folder or file) made user errors. */
function locate(path: string): Omit<ChosenModel, 'label'> {
  try {
    return locateTrainedModel(path);
  } catch (error) {
    throw new StageError((error as Error).message);
  }
}

/** The model of a chosen folder; a broken model.json or weights file is named, not a stack trace. */
async function loadModel(modelDir: string) {
  try {
    return await loadModelFromDirectory(modelDir);
  } catch (error) {
    const message = (error as Error).message;
    // readModelJson and readWeights name their file; an error from tfjs itself is about model.json's topology.
    throw new StageError(message.startsWith(modelDir) ? message : `${join(modelDir, 'model.json')}: cannot build the model (${message})`);
  }
}

/** --out must be a folder (or not exist yet): checked before the model is loaded and images are read. */
function checkOutDir(out: string, cwd: string): string {
  const dir = resolve(cwd, out);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new StageError(`${dir} is a file, not a folder (predictions.csv and predictions.json go into it)`, `--out ${out}`);
  return dir;
}

/** What a prediction on an image without a found cell is worth, said where the prediction is. */
export const NO_CELL_WARNING = 'no cell found — prediction on the unsegmented image is unreliable';

/** The train (or ensemble) instance whose train.json names `arch` and `mode`. */
function trainInstanceFor(ctx: CommandContext, arch: string, mode: string): string {
  for (const id of MODEL_STAGES.flatMap((stage) => ctx.instances(stage))) {
    const record = readJson<TrainRecord>(join(ctx.outputDir(id), TRAIN_JSON));
    if (record?.arch === arch && record.mode === mode) return id;
  }
  throw new StageError(`no current train outputs for arch ${arch}, mode ${mode}; run \`npx pipe run\` first`, 'pipe predict');
}

/**
 * --model as a folder, a train or evaluate instance id, or `<arch>/<mode>`; else the best evaluated model,
 * ranked first by `studies` (crossLabRecords).
 */
export function chooseModel(ctx: CommandContext, model: string | null, cwd: string, studies: ReadonlyMap<string, CrossLabRecord>): ChosenModel {
  if (model !== null) {
    const asPath = resolve(cwd, model);
    if (existsSync(asPath)) return { label: model, ...locate(asPath) };
    let instance = model;
    if (model.startsWith('evaluate[')) {
      const matrix = model.slice('evaluate'.length);
      const stage = MODEL_STAGES.find((s) => ctx.instances(s).includes(s + matrix)) ?? 'train';
      instance = stage + matrix;
    } else if (/^[^[\]/]+\/(transfer|finetune|scratch|ensemble)$/.test(model)) {
      const [arch, mode] = model.split('/') as [string, string];
      instance = trainInstanceFor(ctx, arch, mode);
    }
    if (!MODEL_STAGES.some((stage) => instance.startsWith(`${stage}[`) || instance === stage)) {
      throw new StageError(`not a folder, nor a train/ensemble/evaluate instance id, nor <arch>/<mode>`, `--model ${model}`);
    }
    return { label: instance, ...locate(ctx.outputDir(instance)) };
  }
  // Rank: the backbone's leave-one-lab-out figure first (what a folder from an unseen lab needs; models the
  // study did not hold out a lab for come after); then, of that backbone's models, the transfer head, the one
  // recipe that figure measured (a head on the frozen features; a fine-tuned base was never held out, and
  // its better same-lab test split says nothing about other labs); then the test split, then the other sources.
  let best: ChosenModel | null = null;
  let bestRank: number[] = [];
  for (const id of ctx.instances('evaluate')) {
    const metrics = readJson<{
      status?: string;
      arch: string;
      mode: string;
      primarySource?: string;
      test: { accuracy: number | null } | null;
      sources?: Record<string, { accuracy: number | null }>;
    }>(join(ctx.outputDir(id), 'metrics.json'));
    if (!metrics || metrics.status !== 'evaluated' || metrics.test?.accuracy == null) continue;
    // Ties on the test split (one image is 0.6 points) go to the model that does best on the other sources.
    const others = Object.entries(metrics.sources ?? {}).filter(([source, m]) => source !== metrics.primarySource && typeof m.accuracy === 'number');
    const other = others.length ? others.reduce((sum, [, m]) => sum + m.accuracy!, 0) / others.length : -1;
    const record = studies.get(metrics.arch);
    const rank = [record ? headlineMean(record).balancedAccuracy ?? -1 : -1, record && metrics.mode === 'transfer' ? 1 : 0, metrics.test.accuracy, other];
    if (best && !rankAbove(rank, bestRank)) continue;
    const trainId = trainInstanceFor(ctx, metrics.arch, metrics.mode);
    best = { label: trainId, testAccuracy: metrics.test.accuracy, ...locate(ctx.outputDir(trainId)) };
    bestRank = rank;
  }
  if (!best) throw new StageError('no evaluated model yet; run `npx pipe run` first, or pass --model <folder or instance>', 'pipe predict');
  return best;
}

/** True when `a` ranks above `b`: the first entry that differs decides; equal ranks keep the earlier model. */
function rankAbove(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > (b[i] ?? -Infinity);
  return false;
}

/** The evaluated leave-one-lab-out records, by backbone: the archs the study held labs out for. */
function crossLabRecords(ctx: CommandContext): Map<string, CrossLabRecord> {
  const byArch = new Map<string, CrossLabRecord>();
  let ids: string[];
  try {
    ids = ctx.instances('cross-lab');
  } catch {
    return byArch; // a pipeline.json without the cross-lab stage: no study to follow
  }
  for (const id of ids) {
    const r = readJson<CrossLabRecord>(join(ctx.outputDir(id), 'cross-lab.json'));
    if (r?.status === 'evaluated' && !byArch.has(r.arch)) byArch.set(r.arch, r);
  }
  return byArch;
}

/** What this workspace's leave-one-lab-out study kept for `arch`, or the default study's choice when it has none. */
function keptAdaptation(r: CrossLabRecord | undefined, arch: string): KeptAdaptation {
  if (!r) return DEFAULT_ADAPTATION;
  // Views as the study used them: a record from before views (none in selfTraining) self-trained on the cells alone.
  const views = r.selfTraining?.views && r.views && isAugmentParams(r.views) ? r.views : null;
  return {
    adapt: r.adapt,
    selfTraining: { ...SELF_TRAINING_DEFAULTS, ...r.selfTraining, views: views ? r.selfTraining!.views! : 0 },
    views,
    from: `the leave-one-lab-out study of ${arch}`,
  };
}

/**
 * What the leave-one-lab-out study says about a folder from a lab the model never saw, in one line: its
 * backbone's mean held-out figures as trained and with AdaBN (which predict applies to a folder by default).
 */
function crossLabVerdict(r: CrossLabRecord | undefined, arch: string): string {
  if (!r) return `no leave-one-lab-out figure for ${arch}: the study held no lab out for this backbone`;
  const pct = (v: number | null | undefined) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : 'n/a');
  const selfTrained = r.mean.selfTrained
    ? `; after self-training ${pct(r.mean.selfTrained.accuracy)}, balanced ${pct(r.mean.selfTrained.balancedAccuracy)}${r.adapt === 'self-training' ? ' (kept)' : ' (not kept)'}`
    : '';
  return (
    `on labs it never saw (leave-one-lab-out, ${r.arch}, ${r.labs.join('/')}): mean accuracy ${pct(r.mean.asTrained.accuracy)}, balanced ${pct(r.mean.asTrained.balancedAccuracy)} as trained; ` +
    `with AdaBN ${pct(r.mean.adapted?.accuracy)}, balanced ${pct(r.mean.adapted?.balancedAccuracy)}${r.adapt === 'adabn' ? ' (kept)' : ' (not kept)'}${selfTrained}`
  );
}

/** augment.json of today's augment stage holds every setting; older records lack the geometric ones. */
function isAugmentParams(s: AugmentSettings): s is AugmentSettings & AugmentParams {
  return ['rotation', 'widthShift', 'heightShift', 'shear', 'horizontalFlip', 'verticalFlip', 'fill'].every((k) => k in s);
}

/**
 * Self-training's views of a folder: variant k of each prepared cell (at the cell size, before the model's
 * resize), as the augment stage made the training cells' variants. augment seeds its draws with the hash of
 * the normalised cell's PNG, which is this cell encoded as normalize writes it: a cell the study saw gets the
 * very variants it had there.
 */
function viewsOfCells(cells: readonly RgbImage[], size: number): MakeViews {
  return async (settings, count) => {
    const hashes = await Promise.all(cells.map(async (c) => createHash('sha256').update(await encodePng(c)).digest('hex')));
    return Array.from({ length: count }, (_, k) => () =>
      Promise.all(cells.map(async (c, i) => preparedCellToInput((await cellVariant(c, hashes[i]!, k, settings)).image, size))),
    );
  };
}

export interface FolderAdaptation {
  applied: 'self-training' | 'adabn' | 'none';
  /** The images adaptation read: the classified ones and those of --adapt-with. */
  images: number;
  /** Of them, the images from --adapt-with (read, not classified). */
  poolImages: number;
  /** Labelled cells of the lab (--labelled) that self-training trained on, besides `images`. */
  labelledImages: number;
  layers: string[];
  summary: string;
  /** Self-training with views: each image's probabilities (the pool's after the classified ones), the mean over it and its variants (the final figures). */
  probabilities?: number[][];
}

/** `pipe predict --labelled`: the lab's own cells at the model's input, with their class indices. */
export interface LabelledCells {
  images: readonly Uint8Array[];
  labels: readonly number[];
  /** Their augmented variants, made as `makeViews` makes the classified images'. */
  makeViews?: MakeViews;
  /** Their cells' sizes, for a model that takes them. */
  cellSizes?: FolderCellSizes;
}

/** What the leave-one-lab-out study kept for a model's backbone, and with which settings. */
export interface KeptAdaptation {
  adapt: CrossLabAdaptation;
  selfTraining: SelfTrainingSettings;
  /** How the study made self-training's views (its augment settings), or null when it used none. */
  views: AugmentParams | null;
  /** Where that came from, for the summary line. */
  from: string;
}

/** The adaptation `--adapt auto` applies when no study says otherwise: the one the default study keeps. */
// Without a study's record there are no augment settings to make views with: the cells alone.
export const DEFAULT_ADAPTATION: KeptAdaptation = { adapt: 'self-training', selfTraining: { ...SELF_TRAINING_DEFAULTS, views: 0 }, views: null, from: 'the default study' };

/**
 * The variants of every image: one producer per variant (k = 0, 1, …), each giving that variant of every image in
 * the images' order when called, so a large folder holds one variant's pixels at a time.
 */
export type MakeViews = (settings: AugmentParams, count: number) => Promise<(() => Promise<Uint8Array[]>)[]>;

const ONE_LAB =
  'run one lab\'s cells of every class per folder: a folder mixing labs, or of one class, misleads it';

/**
 * Test-time adaptation to the images given (`--adapt`), treating them as one lab's cells. auto applies what
 * the leave-one-lab-out study kept for this backbone (`kept`: self-training, AdaBN or none) when there are at
 * least MIN_ADAPT_IMAGES images; self-training and adabn force their method from 2 images. A model without
 * the study's head (a CNN, an ensemble) cannot self-train: auto then falls back to AdaBN where it can.
 * `options.classified` says how many of `images`, first, are to be classified; the rest are a pool of more of the
 * same lab's cells (--adapt-with) that adaptation reads as well, and count towards MIN_ADAPT_IMAGES.
 */
export async function adaptToFolder(
  model: LayersModel,
  images: readonly Uint8Array[],
  mode: AdaptMode,
  options: {
    size: number;
    preprocessing: TrainRecord['preprocessing'];
    batchSize: number;
    makeViews?: MakeViews;
    classified?: number;
    labelled?: LabelledCells;
    /** Each image's cell size relative to the call's cells, for a model that takes it (cell-size.ts). */
    cellSizes?: FolderCellSizes;
  },
  kept: KeptAdaptation = DEFAULT_ADAPTATION,
): Promise<FolderAdaptation> {
  const none = (why: string): FolderAdaptation => ({ applied: 'none', images: 0, poolImages: 0, labelledImages: 0, layers: [], summary: `none (${why})` });
  const labelled = options.labelled?.images.length ? options.labelled : null;
  const classified = Math.min(options.classified ?? images.length, images.length);
  const pool = images.length - classified;
  // What the adaptation read, for the summary: the pool named apart, so a user sees it was used.
  const these = pool
    ? `these ${classified} images and ${pool} more from --adapt-with, taken as one lab's cells (only these ${classified} classified)`
    : `these ${images.length} images, taken as one lab's cells`;
  if (mode === 'none') return none('--adapt none');
  // Labelled cells are used by self-training only: giving them asks for it, whatever the study kept.
  const wanted = mode === 'auto' && !labelled ? kept.adapt : mode === 'auto' ? 'self-training' : mode;
  if (wanted === 'none') return none(`${kept.from} kept no test-time adaptation`);
  let method = wanted;
  if (method === 'self-training' && !studyHead(model)) {
    const why = 'the model has no study head (feature vector → head_dense → head_predictions) to self-train';
    if (labelled) throw new StageError(`--labelled: ${why}, and only self-training uses labelled cells`, 'pipe predict');
    if (mode !== 'auto') return none(why);
    method = 'adabn';
  }
  if (labelled && method !== 'self-training') throw new StageError(`--labelled gives self-training the lab's labelled cells, and --adapt ${method} does not self-train`, 'pipe predict');
  if (method === 'adabn' && featureStandardizations(model).length === 0) return none('the model has no feature standardisation to adapt');
  const read = images.length + (labelled?.images.length ?? 0);
  if (images.length < 2 || (mode === 'auto' && read < MIN_ADAPT_IMAGES)) {
    const counted = [`${classified} classified image(s)`, ...(pool ? [`${pool} from --adapt-with`] : []), ...(labelled ? [`${labelled.images.length} labelled`] : [])].join(' and ');
    return none(`${counted}; auto adapts from ${MIN_ADAPT_IMAGES}, --adapt ${method} forces it${pool ? '' : ', --adapt-with <more of the lab\'s images> makes it'}`);
  }
  if (method === 'self-training') {
    // The settings the study measured, also when --adapt forces the method.
    const settings = kept.selfTraining;
    const count = kept.views && options.makeViews ? (settings.views ?? 0) : 0;
    const views = count > 0 ? await options.makeViews!(kept.views!, count) : [];
    // The labelled cells' variants too, as the study's labelled training cells had theirs.
    const anchors = labelled
      ? {
          images: labelled.images,
          labels: labelled.labels,
          views: count > 0 && labelled.makeViews ? await labelled.makeViews(kept.views!, count) : [],
          ...(labelled.cellSizes ? { cellSizes: labelled.cellSizes } : {}),
        }
      : undefined;
    const { layers, probabilities } = (await selfTrainOnFolder(model, images, { ...options, settings, seed: 1, views, anchors }))!;
    const withViews = views.length ? `, each image with ${views.length} augmented variants of it made as the study's training cells were, its label and its result the mean over them` : '';
    const withLabelled = labelled ? `, and every round also on ${labelled.images.length} labelled cells of the lab with their classes (--labelled)` : '';
    return {
      applied: 'self-training',
      images: images.length,
      poolImages: pool,
      labelledImages: labelled?.images.length ?? 0,
      layers,
      ...(views.length ? { probabilities } : {}),
      summary: `self-training: the head trained on its own most confident labels of ${these}${withLabelled} (${settings.rounds} rounds, the last taking ${Math.round(settings.portion * 100)} % of each predicted class${withViews}; ${mode === 'auto' ? `kept by ${kept.from}; ` : ''}--adapt none turns it off; ${ONE_LAB})`,
    };
  }
  const { cellSizes, ...settings } = options;
  const layers = await adaptFeatureStandardizations(model, images, { ...settings, ...(cellSizes ? { cellSizes: cellSizes.values } : {}) });
  return {
    applied: 'adabn',
    images: images.length,
    poolImages: pool,
    labelledImages: 0,
    layers,
    summary: `AdaBN: ${layers.length} feature standardisation layer(s) re-estimated on ${these} (--adapt none turns it off; ${ONE_LAB})`,
  };
}

interface PreparedImages {
  /** Each file's segmentation status, or why it could not be prepared. */
  status: Map<string, { cell: string | null; reason: string | null; error: string | null }>;
  /** The model's input of each file prepared. */
  prepared: Map<string, Uint8Array>;
  /** The normalised cells at the cell size: self-training's views are made of them, as augment made the training cells'. */
  cells: Map<string, RgbImage>;
  /** Each prepared file's cell diameter in source pixels (null: no cell found). */
  diameters: Map<string, number | null>;
}

/** Raw images → canonical cell → the model's input, as the training data was prepared; failures are recorded, not thrown. */
async function prepareImages(files: readonly string[], record: TrainRecord, cache: PreparedCellCache): Promise<PreparedImages> {
  const out: PreparedImages = { status: new Map(), prepared: new Map(), cells: new Map(), diameters: new Map() };
  for (const file of files) {
    try {
      const { cell, ...input } = await cache.cell(file);
      // Segment rejects these for training; a prediction on a few pixels would be noise with a percentage.
      if (input.sourceWidth < MIN_SIDE || input.sourceHeight < MIN_SIDE) {
        throw new Error(`${file}: image too small (${input.sourceWidth}×${input.sourceHeight} px, need ≥ ${MIN_SIDE} on each side); not classified`);
      }
      out.status.set(file, { cell: input.cellStatus, reason: input.cellReason, error: null });
      out.prepared.set(file, await preparedCellToInput(cell, record.inputSize));
      out.cells.set(file, cell);
      out.diameters.set(file, cellDiameter({ status: input.cellStatus, scale: input.scale }));
    } catch (error) {
      out.status.set(file, { cell: null, reason: null, error: (error as Error).message });
    }
  }
  return out;
}

export interface ImagePrediction {
  file: string;
  predicted: string | null;
  confidence: number | null;
  probabilities: Record<string, number> | null;
  cellStatus: string | null;
  /** Why the prediction should not be trusted (no cell found), or null. */
  warning: string | null;
  error: string | null;
}

export function predictionsCsv(rows: readonly ImagePrediction[], classes: readonly string[]): string {
  const header = ['file', 'predicted', 'confidence', ...classes.map((c) => `p_${c}`), 'cell_status', 'warning', 'error'];
  const lines = rows.map((r) =>
    [r.file, r.predicted ?? '', r.confidence ?? '', ...classes.map((c) => r.probabilities?.[c] ?? ''), r.cellStatus ?? '', r.warning ?? '', r.error ?? '']
      .map((v) => csvField(typeof v === 'number' ? Number(v.toFixed(6)) : v))
      .join(','),
  );
  return [header.join(','), ...lines].join('\n') + '\n';
}

export default defineCommand({
  usage: USAGE,
  async run(ctx) {
    const cwd = process.env.INIT_CWD ?? process.cwd();
    if (ctx.argv.includes('--help') || ctx.argv.includes('-h')) {
      ctx.log(USAGE);
      return 0;
    }
    const args = parsePredictArgs(ctx.argv);
    const outDir = checkOutDir(args.out, cwd);
    // Every cross-lab record, read once: they rank the models, say what to expect, and what adaptation to apply.
    const studies = crossLabRecords(ctx);
    const chosen = chooseModel(ctx, args.model, cwd, studies);
    const { record } = chosen;
    if (!record.cell) throw new StageError('train.json records no cell representation; retrain with the current train stage', chosen.root);
    const files = await collectImages(args.inputs, cwd);
    const poolFiles = args.adaptWith.length ? await collectImages(args.adaptWith, cwd) : [];
    const labelledFiles = args.labelled.length ? await collectLabelled(args.labelled, record.classes, cwd) : [];
    await initBackend({ prefer: args.backend ?? 'auto', quiet: true });
    const model = await loadModel(chosen.modelDir);
    ctx.log(
      `model ${chosen.label} (${record.arch}, ${record.mode}` +
        (chosen.testAccuracy != null ? `, test accuracy ${(chosen.testAccuracy * 100).toFixed(1)}%` : '') +
        `) on ${files.length} image(s)`,
    );
    const trainedOn = record.sources ?? [];
    const crossLab = args.model ? null : crossLabVerdict(studies.get(record.arch), record.arch);
    ctx.log(`trained on ${trainedOn.length} lab(s): ${trainedOn.join(', ') || 'unknown'}${crossLab ? `; ${crossLab}` : ''}`);

    const blank = new Uint8Array(record.inputSize * record.inputSize * 3).fill(255);
    // Every image prepared once: adaptation reads them all before any is classified. Prepared cells are kept
    // in the command's cache, so an archive passed again with --adapt-with is read, not prepared again.
    const cellCache = new PreparedCellCache(ctx.cacheDir, { cell: record.cell, normalization: record.normalization });
    const classifiedImages = await prepareImages(files, record, cellCache);
    const { status, prepared, cells } = classifiedImages;
    // --adapt-with: more of the lab's images, prepared the same way, read by adaptation only. An image also given
    // to classify (an archive that already holds today's cells), or twice in the archive, is read once.
    // The labelled cells: self-training trains on them with their classes every round; an archive's copy of
    // one is not read again as unlabelled.
    const labelled = await prepareImages(labelledFiles.map((l) => l.file), record, cellCache);
    const labelledFailed = [...labelled.status.values()].filter((s) => s.error);
    if (labelledFailed.length) ctx.warn(`${labelledFailed.length} of ${labelled.status.size} --labelled image(s) left out: ${labelledFailed[0]!.error}${labelledFailed.length > 1 ? ' (and others)' : ''}`);
    const labelOf = new Map(labelledFiles.map((l) => [l.file, l.label] as const));
    // The cache's digests: a file hashed for its cache entry is not hashed again here.
    const seen = new Set(poolFiles.length ? [...files, ...labelled.prepared.keys()].map((f) => cellCache.digest(f)) : []);
    const unseen = poolFiles.filter((file) => {
      const digest = cellCache.digest(file);
      if (seen.has(digest)) return false;
      seen.add(digest);
      return true;
    });
    const pool = await prepareImages(unseen, record, cellCache);
    if (cellCache.hits) {
      const { hits, misses } = cellCache;
      ctx.log(`cells: ${hits} of ${hits + misses} image(s) read from predict's cache of prepared cells${misses ? `, ${misses} prepared` : ''} (pipe gc empties it)`);
    }
    const poolFailed = [...pool.status.values()].filter((s) => s.error);
    if (poolFailed.length) ctx.warn(`${poolFailed.length} of ${pool.status.size} --adapt-with image(s) left out of adaptation: ${poolFailed[0]!.error}${poolFailed.length > 1 ? ' (and others)' : ''}`);
    // The cell's size relative to the median of every cell this call read (classified, --adapt-with, --labelled),
    // for a model that takes it: a folder is taken as one lab's cells, as for adaptation.
    const sizing = takesCellSize(model) ? callCellSizes(record, [classifiedImages, pool, labelled]) : null;
    if (sizing) ctx.log(`cell size: ${sizing.summary}`);
    const sizesOf = (images: PreparedImages): FolderCellSizes | undefined =>
      sizing ? { values: [...images.prepared.keys()].map((f) => relativeCellSize(images.diameters.get(f) ?? null, sizing.median)), jitter: sizing.jitter } : undefined;
    const folderSizes = sizesOf(classifiedImages);
    const poolSizes = sizesOf(pool);
    const labelledSizes = sizesOf(labelled);
    const adaptation = await adaptToFolder(
      model,
      [...prepared.values(), ...pool.prepared.values()],
      args.adapt,
      {
        size: record.inputSize,
        preprocessing: record.preprocessing,
        batchSize: args.batchSize,
        makeViews: viewsOfCells([...cells.values(), ...pool.cells.values()], record.inputSize),
        classified: prepared.size,
        labelled: {
          images: [...labelled.prepared.values()],
          labels: [...labelled.prepared.keys()].map((file) => labelOf.get(file)!),
          makeViews: viewsOfCells([...labelled.cells.values()], record.inputSize),
          ...(labelledSizes ? { cellSizes: labelledSizes } : {}),
        },
        ...(folderSizes && poolSizes ? { cellSizes: { values: [...folderSizes.values, ...poolSizes.values], jitter: folderSizes.jitter } } : {}),
      },
      keptAdaptation(studies.get(record.arch), record.arch),
    );
    ctx.log(`test-time adaptation: ${adaptation.summary}`);
    // With views, self-training already gave each adapted image its result, the mean over it and its variants,
    // as the study measured; the model runs over the images only where it did not.
    const adapted = adaptation.probabilities ? new Map([...prepared.keys()].map((file, i) => [file, adaptation.probabilities![i]!] as const)) : null;
    const probabilities = adapted
      ? files.map((file) => adapted.get(file) ?? []) // a failed image: its row carries the error instead
      : (
          await predictProbabilities(
            model,
            files,
            async (file) => prepared.get(file) ?? blank, // a failed image is classified on white; its row carries the error instead
            {
              size: record.inputSize,
              preprocessing: record.preprocessing,
              batchSize: args.batchSize,
              ...(sizing ? { cellSizes: files.map((f) => relativeCellSize(classifiedImages.diameters.get(f) ?? null, sizing.median)) } : {}),
            },
          )
        ).probabilities;
    model.dispose();

    const rows: ImagePrediction[] = files.map((file, i) => {
      const s = status.get(file)!;
      const display = relative(cwd, file) || file;
      if (s.error) return { file: display, predicted: null, confidence: null, probabilities: null, cellStatus: null, warning: null, error: s.error };
      const row = probabilities[i]!;
      const k = argMax(row);
      return {
        file: display,
        predicted: record.classes[k]!,
        confidence: row[k]!,
        probabilities: Object.fromEntries(record.classes.map((c, j) => [c, row[j]!])),
        cellStatus: s.cell,
        warning: s.cell === 'ok' ? null : `${NO_CELL_WARNING}${s.reason ? ` (${s.reason})` : ''}`,
        error: null,
      };
    });
    try {
      await mkdir(outDir, { recursive: true });
    } catch (error) {
      throw new StageError(`cannot create the folder (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, `--out ${outDir}`);
    }
    const csvPath = join(outDir, 'predictions.csv');
    const jsonPath = join(outDir, 'predictions.json');
    await writeFile(csvPath, predictionsCsv(rows, record.classes));
    await writeFile(
      jsonPath,
      JSON.stringify(
        {
          model: { id: chosen.label, arch: record.arch, mode: record.mode, classes: record.classes, inputSize: record.inputSize, testAccuracy: chosen.testAccuracy ?? null, trainedOnLabs: trainedOn },
          testTimeAdaptation: {
            applied: adaptation.applied,
            images: adaptation.images,
            adaptWith: { folders: args.adaptWith, images: pool.prepared.size },
            labelled: {
              folders: args.labelled,
              images: labelled.prepared.size,
              perClass: Object.fromEntries(record.classes.map((c, k) => [c, [...labelled.prepared.keys()].filter((f) => labelOf.get(f) === k).length])),
            },
            layers: adaptation.layers,
            why: adaptation.summary,
            crossLab,
          },
          cellSize: sizing ? { medianCropSidePx: sizing.cropSide, cells: sizing.cells, why: sizing.summary } : null,
          images: rows,
        },
        null,
        2,
      ) + '\n',
    );
    for (const r of rows) {
      ctx.log(r.error ? `${r.file}: ERROR ${r.error}` : `${r.file}: ${r.predicted} (${((r.confidence ?? 0) * 100).toFixed(1)}%)${r.warning ? ` — WARNING: ${r.warning}` : ''}`);
    }
    ctx.log(`wrote ${relative(cwd, csvPath) || csvPath} and ${relative(cwd, jsonPath) || jsonPath}`);
    const failed = rows.filter((r) => r.error).length;
    const unreliable = rows.filter((r) => r.warning).length;
    if (unreliable) ctx.warn(`${unreliable} of ${rows.length} image(s): no cell found; their predictions are unreliable (column "warning")`);
    if (failed) ctx.warn(`${failed} of ${rows.length} image(s) could not be classified (column "error")`);
    return failed ? 1 : 0;
  },
});

/** The median cell diameter over every image a call prepared, and what to tell the user about it. */
function callCellSizes(record: TrainRecord, sets: readonly PreparedImages[]): { median: number | null; cropSide: number | null; cells: number; jitter: number; summary: string } {
  const diameters = sets.flatMap((s) => [...s.diameters.values()]).filter((d): d is number => d !== null);
  const m = median(diameters);
  const jitter = record.cellSize?.jitter ?? 0;
  // The canonical crop's side in the source image's pixels (cell size / scale): the median said in pixels a user can check.
  const cropSide = m === null ? null : Math.round(m * record.cell!.size);
  const few = diameters.length < MIN_ADAPT_IMAGES ? `; with fewer than ${MIN_ADAPT_IMAGES} cells the median is rough, and one cell alone is taken as of typical size` : '';
  const summary =
    m === null
      ? 'no cell found, so every cell is taken as of its lab\'s typical size'
      : `each cell's diameter over the median of the ${diameters.length} cell(s) this call read (the median crop around a cell ${cropSide} px of its image), taken as one lab's cells; the model reads it beside the image, as it was trained with each lab's own median${few}`;
  return { median: m, cropSide, cells: diameters.length, jitter, summary };
}
