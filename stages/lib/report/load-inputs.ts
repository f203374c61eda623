// Gathers the report's inputs from the stage's deps (evaluate, train, audit, segment, split,
// shifted, normalize) into one ReportData. Missing optional pieces become notes in the report;
// malformed files are errors naming the file.
import { existsSync, readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { DepOutput, RunState } from '../../../pipeline/stage-api.js';
import { StageError } from '../../../pipeline/stage-api.js';
import { readSplitCsv, splitCsvPath, SPLITS } from '../records/split-csv.js';
import type { EvaluationMetrics, MisclassifiedImage } from '../metrics/evaluation-metrics.js';
import { MODEL_STAGES } from '../classifier/train-record.js';
import { imageDataUri } from './thumbnails.js';
import { CROSS_LAB_JSON, type CrossLabRecord } from '../records/cross-lab-record.js';
import { LABS_JSON, type LabsManifest } from '../records/labs-manifest.js';
import originalStudyJson from './original-study.json' with { type: 'json' };
import type { ContactSheet, Dag, DagNode, Environment, GalleryImage, HistoryEntry, LabsData, ModelResult, OriginalStudy, ReportData, SplitCounts, TrainSummary } from './types.js';
import { AUGMENT_JSON, type AugmentSettings } from '../records/augment-record.js';

export interface LoadOptions {
  deps: Record<string, DepOutput>;
  workspace: string;
  title: string;
  /** Misclassified thumbnails per model. */
  galleryPerModel: number;
  /** Path of the runner's run-state JSON, when it provides one. */
  runStateFile?: string | null;
  /** Stage id of the report itself (its own node is drawn as running). */
  selfStageId?: string;
}

const ARCH_ORDER = ['resnet50', 'vgg16', 'vgg19', 'inception_v3', 'xception', 'densenet121', 'densenet169', 'densenet201', 'mobilenet_v1_0.25', 'small_cnn'];
const MODE_ORDER = ['transfer', 'finetune', 'scratch', 'ensemble'];

async function readJson<T>(file: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new StageError(`cannot read: ${(e as Error).message}`, file);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new StageError(`not valid JSON: ${(e as Error).message}`, file);
  }
}

async function readJsonIfPresent<T>(file: string): Promise<T | null> {
  return existsSync(file) ? readJson<T>(file) : null;
}

/**
 * Reads history.jsonl (one JSON object per epoch; snake_case from the training loop, camelCase also
 * accepted). Epochs of later phases (finetune after transfer) continue the count of earlier ones.
 */
async function readHistory(file: string): Promise<{ entries: HistoryEntry[]; phaseOffsets: Map<string, number> }> {
  const phaseOffsets = new Map<string, number>();
  if (!existsSync(file)) return { entries: [], phaseOffsets };
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  let offset = 0;
  let currentPhase: string | null = null;
  let lastEpoch = 0;
  const entries = lines.map((line, i) => {
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch (e) {
      throw new StageError(`line ${i + 1} is not valid JSON: ${(e as Error).message}`, file);
    }
    const n = (...keys: string[]) => {
      for (const k of keys) if (typeof row[k] === 'number' && Number.isFinite(row[k])) return row[k] as number;
      return undefined;
    };
    const epoch = n('epoch');
    if (epoch === undefined) throw new StageError(`line ${i + 1} has no numeric "epoch"`, file);
    const phase = typeof row.phase === 'string' ? row.phase : null;
    if (phase !== currentPhase) {
      if (currentPhase !== null) offset += lastEpoch;
      currentPhase = phase;
      if (phase !== null && !phaseOffsets.has(phase)) phaseOffsets.set(phase, offset);
    }
    lastEpoch = epoch;
    const entry: HistoryEntry = { epoch: offset + epoch, phase };
    const set = (key: 'loss' | 'accuracy' | 'valLoss' | 'valAccuracy' | 'seconds', ...names: string[]) => {
      const v = n(...names);
      if (v !== undefined) entry[key] = v;
    };
    set('loss', 'loss');
    set('accuracy', 'accuracy', 'acc');
    set('valLoss', 'val_loss', 'valLoss');
    set('valAccuracy', 'val_accuracy', 'valAccuracy', 'val_acc');
    set('seconds', 'seconds');
    return entry;
  });
  return { entries, phaseOffsets };
}

/** The report's view of train.json; `lastPhaseOffset` turns the kept epoch into the curves' count. */
function trainSummary(raw: Record<string, unknown>, lastPhaseOffset: number): TrainSummary {
  const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const numOr = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const epochs = obj(raw.epochs);
  const seconds = obj(raw.seconds);
  const backend = obj(raw.backend);
  const kept = numOr(epochs.kept) ?? numOr(raw.bestEpoch);
  return {
    status: typeof raw.status === 'string' ? raw.status : null,
    reason: typeof raw.reason === 'string' ? raw.reason : null,
    epochsPlanned: numOr(epochs.planned),
    epochsCompleted: numOr(epochs.completed) ?? numOr(raw.epochs),
    bestEpoch: kept === null ? null : kept + lastPhaseOffset,
    stoppedEarly: typeof epochs.stoppedEarly === 'boolean' ? epochs.stoppedEarly : null,
    wallSeconds: numOr(seconds.wall) ?? numOr(raw.wallSeconds),
    trainingSeconds: numOr(seconds.training),
    backend:
      typeof backend.name === 'string'
        ? { name: backend.name, package: typeof backend.package === 'string' ? backend.package : null, device: typeof backend.device === 'string' ? backend.device : null, gpu: backend.gpu === true }
        : typeof raw.backend === 'string'
          ? { name: raw.backend, package: null, device: null, gpu: false }
          : null,
    trainImages: numOr(obj(raw.data).train),
    normalization: typeof obj(raw.normalization).method === 'string' ? { method: obj(raw.normalization).method as string, blurSigma: numOr(obj(raw.normalization).blurSigma) } : null,
  };
}

function checkMetrics(m: EvaluationMetrics, file: string): EvaluationMetrics {
  if (m.schemaVersion !== 1) throw new StageError(`unsupported schemaVersion ${String(m.schemaVersion)} (expected 1)`, file);
  if (!Array.isArray(m.classes) || typeof m.sources !== 'object' || m.sources === null) throw new StageError('missing "classes" or "sources"', file);
  if (m.status === 'evaluated' && !m.test) throw new StageError('status is "evaluated" but "test" is missing', file);
  return m;
}

function byStage(deps: Record<string, DepOutput>, stageId: string): DepOutput[] {
  return Object.values(deps)
    .filter((d) => d.stageId === stageId)
    .sort((a, b) => a.instanceId.localeCompare(b.instanceId));
}

function modelKey(arch: string, mode: string): string {
  return `${arch}\u0000${mode}`;
}

async function loadGallery(items: MisclassifiedImage[], model: string, deps: Record<string, DepOutput>, limit: number, notes: Set<string>): Promise<GalleryImage[]> {
  const out: GalleryImage[] = [];
  for (const item of items.slice(0, limit)) {
    const dep = byStage(deps, item.stage)[0];
    const file = dep ? path.join(dep.dir, item.rel) : null;
    let thumbnail: string | null = null;
    if (file && existsSync(file)) thumbnail = await imageDataUri(file, 112);
    else notes.add(dep ? `Some misclassified images were not found in the "${item.stage}" outputs; they are listed without a thumbnail.` : `Misclassified images refer to stage "${item.stage}", which is not a dep of report; they are listed without a thumbnail.`);
    out.push({ ...item, model, thumbnail });
  }
  return out;
}

async function loadSplit(dep: DepOutput | undefined, notes: Set<string>): Promise<SplitCounts | null> {
  if (!dep) return null;
  const result: SplitCounts = { counts: {}, groups: {}, files: {} };
  for (const split of SPLITS) {
    const file = splitCsvPath(dep.dir, split);
    if (!existsSync(file)) {
      notes.add(`split: ${split}.csv is missing.`);
      continue;
    }
    const rows = readSplitCsv(file);
    const counts: Record<string, number> = {};
    for (const r of rows) counts[r.class] = (counts[r.class] ?? 0) + 1;
    result.counts[split] = counts;
    result.groups[split] = new Set(rows.map((r) => r.group)).size;
    result.files[split] = rows.length;
  }
  return result;
}

async function loadContactSheets(dep: DepOutput | undefined): Promise<ContactSheet[]> {
  if (!dep) return [];
  const names = (await readdir(dep.dir)).filter((f) => /^contact-sheet.*\.(jpe?g|png)$/i.test(f)).sort();
  const sheets: ContactSheet[] = [];
  for (const name of names) {
    const className = name.replace(/^contact-sheet-?/, '').replace(/\.[^.]+$/, '') || 'all';
    sheets.push({ className, dataUri: await imageDataUri(path.join(dep.dir, name), 960, 80) });
  }
  return sheets;
}

interface PipelineFile {
  stages?: { id: string; deps?: string[] | Record<string, string>; matrix?: unknown }[];
}

type DagInstance = Pick<RunState['instances'][number], 'id' | 'stageId' | 'seconds'> & { status: string };

/**
 * Build times of this stage's own deps when the runner passed no run state: each DepOutput carries how long
 * building its outputs took (from the store, so a cached or restored result keeps its original time).
 */
function depTimes(deps: Record<string, DepOutput>): DagInstance[] | null {
  const outs = Object.values(deps);
  return outs.length ? outs.map((d) => ({ id: d.instanceId, stageId: d.stageId, status: 'built', seconds: d.seconds })) : null;
}

/** Stage-level DAG from pipeline.json, with statuses and times summed per stage from the run state if given. */
export async function loadDag(workspace: string, runStateFile: string | null | undefined, deps: Record<string, DepOutput>, selfStageId = 'report'): Promise<Dag> {
  const pipelineFile = path.join(workspace, 'pipeline.json');
  const pipeline = existsSync(pipelineFile) ? await readJson<PipelineFile>(pipelineFile) : { stages: [] };
  const given = runStateFile && existsSync(runStateFile) ? await readJson<RunState>(runStateFile) : null;
  const recorded = given ? null : depTimes(deps);
  const run: DagInstance[] | null = given?.instances ?? recorded;
  const stageOf = (dep: string) => dep.replace(/\?$/, '').replace(/\[.*$/, '');
  // deps: a list of selectors, or alias → selector.
  const depStages = (deps: string[] | Record<string, string> | undefined) => [...new Set((Array.isArray(deps) ? deps : Object.values(deps ?? {})).map(stageOf))];
  const nodes: DagNode[] = (pipeline.stages ?? []).map((s) => {
    // Without a run state, this very stage is known only to be the one running now.
    if (recorded && s.id === selfStageId) return { id: s.id, label: s.id, deps: depStages(s.deps), instances: 1, status: 'running', seconds: null };
    const instances = run?.filter((i) => i.stageId === s.id) ?? [];
    const statuses = [...new Set(instances.map((i) => i.status ?? 'unknown'))];
    const seconds = instances.some((i) => typeof i.seconds === 'number') ? instances.reduce((sum, i) => sum + (i.seconds ?? 0), 0) : null;
    const depInstances = Object.values(deps).filter((d) => d.stageId === s.id).length;
    return {
      id: s.id,
      label: s.id,
      deps: depStages(s.deps),
      instances: instances.length || depInstances || 1,
      status: statuses.length === 0 ? null : statuses.length === 1 ? statuses[0]! : statuses.includes('failed') ? 'failed' : statuses.includes('ran') ? 'ran' : statuses[0]!,
      seconds,
    };
  });
  const provenance = given
    ? `Statuses and times are those of the run that built this report (from the runner's run state); a stage's time is the sum over its instances.`
    : recorded
      ? `The runner passed no run state to this stage, so cache statuses of this run are unknown; the times shown are those of the report's direct inputs, each how long building its outputs took when they were made, summed over a stage's instances.`
      : `The runner gave no run state to this stage, so the DAG is drawn from pipeline.json without times or cache statuses.`;
  return { nodes, provenance };
}

/** Version of an installed package: walk up from its resolved entry to its package.json (some packages don't export it). */
function installedVersion(req: NodeJS.Require, name: string): string | null {
  let dir: string;
  try {
    dir = path.dirname(req.resolve(name));
  } catch {
    return null;
  }
  for (; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    } catch {
      return null;
    }
  }
  return null;
}

function environment(models: ModelResult[], workspace: string): Environment {
  const backends = new Set<string>();
  for (const m of models) {
    const b = m.train?.backend;
    if (b) backends.add(`${b.name}${b.package ? ` (${b.package})` : ''}${b.device ? ` on ${b.device}` : ''}`);
  }
  const packages: Record<string, string> = {};
  // Resolve from the workspace first, then from this module (the bundle lives inside the repo).
  const requires = [createRequire(path.join(workspace, 'package.json')), createRequire(import.meta.url)];
  for (const name of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'sharp', 'vega', 'vega-lite']) {
    packages[name] = 'not installed';
    for (const req of requires) {
      const version = installedVersion(req, name);
      if (version) {
        packages[name] = version;
        break;
      }
    }
  }
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    backends: [...backends],
    packages,
  };
}

export async function loadReportData(options: LoadOptions): Promise<ReportData> {
  const { deps, workspace } = options;
  const notes = new Set<string>();
  const models = new Map<string, ModelResult>();
  const ensure = (arch: string, mode: string): ModelResult => {
    const key = modelKey(arch, mode);
    let m = models.get(key);
    if (!m) {
      m = { label: `${arch} · ${mode}`, arch, mode, evaluateInstance: null, trainInstance: null, metrics: null, train: null, history: [], misclassified: [], misclassifiedTotal: 0 };
      models.set(key, m);
    }
    return m;
  };

  // An ensemble publishes train's layout (train.json, history.jsonl), so it reads like one more model.
  for (const dep of MODEL_STAGES.flatMap((stage) => byStage(deps, stage))) {
    const raw = await readJsonIfPresent<Record<string, unknown>>(path.join(dep.dir, 'train.json'));
    const arch = dep.matrix.arch ?? (typeof raw?.arch === 'string' ? raw.arch : dep.instanceId);
    const mode = dep.matrix.mode ?? (typeof raw?.mode === 'string' ? raw.mode : 'unknown');
    const m = ensure(arch, mode);
    m.trainInstance = dep.instanceId;
    const history = await readHistory(path.join(dep.dir, 'history.jsonl'));
    m.history = history.entries;
    const lastPhase = history.entries[history.entries.length - 1]?.phase ?? null;
    m.train = raw ? trainSummary(raw, lastPhase !== null ? (history.phaseOffsets.get(lastPhase) ?? 0) : 0) : null;
    if (!raw) notes.add(`${dep.instanceId} has no train.json.`);
  }
  for (const dep of byStage(deps, 'evaluate')) {
    const file = path.join(dep.dir, 'metrics.json');
    if (!existsSync(file)) throw new StageError('missing; every evaluate instance must write metrics.json', `${dep.instanceId}/metrics.json`);
    const metrics = checkMetrics(await readJson<EvaluationMetrics>(file), file);
    const m = ensure(dep.matrix.arch ?? metrics.arch, dep.matrix.mode ?? metrics.mode);
    m.evaluateInstance = dep.instanceId;
    m.metrics = metrics;
    const mis = (await readJsonIfPresent<MisclassifiedImage[]>(path.join(dep.dir, 'misclassified.json'))) ?? [];
    if (!Array.isArray(mis)) throw new StageError('must be a JSON array', path.join(dep.dir, 'misclassified.json'));
    m.misclassifiedTotal = mis.length;
    m.misclassified = await loadGallery(mis, m.label, deps, options.galleryPerModel, notes);
  }
  const rank = (list: string[], x: string) => (list.includes(x) ? list.indexOf(x) : list.length);
  const sorted = [...models.values()].sort((a, b) => rank(ARCH_ORDER, a.arch) - rank(ARCH_ORDER, b.arch) || a.arch.localeCompare(b.arch) || rank(MODE_ORDER, a.mode) - rank(MODE_ORDER, b.mode) || a.mode.localeCompare(b.mode));

  const firstMetrics = sorted.find((m) => m.metrics)?.metrics ?? null;
  const split = await loadSplit(byStage(deps, 'split')[0], notes);
  // Before any model is evaluated, the classes still show from the split.
  const classes = firstMetrics?.classes ?? [...new Set(Object.values(split?.counts ?? {}).flatMap((c) => Object.keys(c)))].sort();
  const primarySource = firstMetrics?.primarySource ?? 'test';
  const shiftedSources = [...new Set(sorted.flatMap((m) => Object.keys(m.metrics?.sources ?? {})))].filter((s) => s !== primarySource);
  if (sorted.length === 0) notes.add('No train or evaluate outputs reached the report.');
  if (sorted.some((m) => m.metrics?.status === 'evaluated') && shiftedSources.length === 0) notes.add('No shifted-source predictions were evaluated, so cross-source robustness is not shown.');

  const auditDep = byStage(deps, 'audit')[0];
  const segmentDep = byStage(deps, 'segment')[0];
  const shiftedDep = byStage(deps, 'shifted')[0];
  if (!auditDep) notes.add('No audit outputs reached the report.');

  const data: ReportData = {
    title: options.title,
    classes,
    primarySource,
    shiftedSources,
    models: sorted,
    split,
    audit: {
      markdown: auditDep && existsSync(path.join(auditDep.dir, 'audit.md')) ? await readFile(path.join(auditDep.dir, 'audit.md'), 'utf8') : null,
      json: auditDep ? await readJsonIfPresent<Record<string, unknown>>(path.join(auditDep.dir, 'audit.json')) : null,
    },
    segment: {
      summary: segmentDep ? await readJsonIfPresent<Record<string, unknown>>(path.join(segmentDep.dir, 'summary.json')) : null,
      contactSheets: await loadContactSheets(segmentDep),
    },
    shifted: shiftedDep ? await readJsonIfPresent<Record<string, unknown>>(path.join(shiftedDep.dir, 'sets.json')) : null,
    shiftedSheets: await loadContactSheets(shiftedDep),
    dag: await loadDag(workspace, options.runStateFile, deps, options.selfStageId),
    original: originalStudyJson as OriginalStudy,
    environment: environment(sorted, workspace),
    labs: await loadLabs(deps),
    notes: [],
  };
  data.notes = [...notes];
  return data;
}

async function loadLabs(deps: Record<string, DepOutput>): Promise<LabsData> {
  const labsDep = byStage(deps, 'labs')[0];
  const manifest = labsDep ? await readJsonIfPresent<LabsManifest>(path.join(labsDep.dir, LABS_JSON)) : null;
  const crossLab: CrossLabRecord[] = [];
  for (const dep of byStage(deps, 'cross-lab')) {
    const r = await readJsonIfPresent<CrossLabRecord>(path.join(dep.dir, CROSS_LAB_JSON));
    if (r) crossLab.push(r);
  }
  const augmentDep = byStage(deps, 'augment')[0];
  const augmentation = augmentDep ? await readJsonIfPresent<AugmentSettings>(path.join(augmentDep.dir, AUGMENT_JSON)) : null;
  return { labs: manifest?.labs ?? [], crossLab, augmentation };
}
