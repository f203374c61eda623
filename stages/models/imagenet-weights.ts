// Finding, checking, fetching and loading an architecture's ImageNet weights. Nothing here
// downloads unless asked to (`downloadKerasWeights`); tests and the default run never do.
//
// Where a user puts Keras weight files: <workspace>/data/weights/keras/<file>.h5, which is part of the
// `weights` stage's inputs, so a new or changed file changes its key. Keras' own download cache
// (~/.keras/models) is never read behind the key's back: a file there is used by linking it in
// (`ln -s ~/.keras/models/<file>.h5 data/weights/keras/`); inputs follow file links.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { StageError } from '../../pipeline/stage-api.js';
import type { ArchSpec, KerasWeightFile } from './arch-spec.js';
import { loadKerasH5Weights } from './keras-h5.js';
import { loadTfjsManifestWeights } from './tfjs-weights-manifest.js';
import type { LoadReport } from './weight-assignment.js';

/** Workspace-relative folder for user-supplied Keras weight files. */
export const USER_WEIGHTS_DIR = 'data/weights/keras';


/** What the `weights` stage writes as `weights.json`. */
export interface WeightsRecord {
  arch: string;
  status: 'present' | 'missing' | 'builtin';
  /** Where the weights came from: a path, a URL, or the shipped folder. */
  source: string | null;
  md5: string | null;
  /** Relative to the stage's output dir: the `.h5` file or the TF.js manifest folder. */
  file: string | null;
  format: 'keras-h5' | 'tfjs-manifest' | null;
  /** The weights include the 1000-class ImageNet head. */
  includesTop: boolean;
  message: string;
}

export interface ResolvedWeights {
  status: 'present' | 'missing' | 'builtin';
  /** Absolute path of the `.h5` file or manifest folder (null when missing). */
  path: string | null;
  format: 'keras-h5' | 'tfjs-manifest' | null;
  includesTop: boolean;
  /** The Keras file entry that was found (or is wanted). */
  kerasFile: KerasWeightFile | null;
  md5: string | null;
  message: string;
}

export async function md5OfFile(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Where `file` is looked for: only inside the workspace's declared weights folder. */
export function kerasWeightLocation(file: string, workspace: string): string {
  return path.join(workspace, USER_WEIGHTS_DIR, file);
}

/** The exact instructions for a user whose weights are missing. */
export function missingWeightsMessage(spec: ArchSpec, workspace: string, problem?: string): string {
  const wanted = spec.imagenet?.notop;
  if (!wanted) return `${spec.name} has no ImageNet weights (train it from scratch)`;
  const md5 = wanted.md5 ? ` (md5 ${wanted.md5})` : '';
  const top = spec.imagenet!.top;
  return (
    (problem ? `${problem}. ` : '') +
    `ImageNet weights for ${spec.name} (${spec.kerasName}) are not available offline: put ${wanted.file}${md5}, ` +
    `downloaded from ${wanted.url}, at ${kerasWeightLocation(wanted.file, workspace)} ` +
    `(the with-top file ${top.file} works too; a file Keras already downloaded can be linked there: ` +
    `ln -s ~/.keras/models/${wanted.file} ${USER_WEIGHTS_DIR}/), ` +
    `or run \`npx pipe run weights --set weights.download=true\` where the network allows`
  );
}

/**
 * Finds ImageNet weights for `spec` without touching the network: the shipped folder, else the
 * no-top Keras file, else the with-top one (its head is ignored when loading a model without top).
 * `verify` checks the md5 Keras publishes (reads the whole file).
 */
export async function resolveImagenetWeights(
  spec: ArchSpec,
  options: { workspace: string; verify?: boolean },
): Promise<ResolvedWeights> {
  const { workspace } = options;
  if (spec.builtinWeights) {
    const dir = path.join(workspace, spec.builtinWeights.dir);
    if (existsSync(path.join(dir, 'model.json'))) {
      return {
        status: 'builtin',
        path: dir,
        format: spec.builtinWeights.format,
        includesTop: spec.builtinWeights.includesTop,
        kerasFile: null,
        md5: null,
        message: `shipped ImageNet weights in ${spec.builtinWeights.dir}`,
      };
    }
  }
  const problems: string[] = [];
  if (spec.imagenet) {
    for (const [kerasFile, includesTop] of [[spec.imagenet.notop, false], [spec.imagenet.top, true]] as const) {
      for (const candidate of [kerasWeightLocation(kerasFile.file, workspace)]) {
        if (!existsSync(candidate)) continue;
        let md5: string | null = null;
        if (options.verify ?? true) {
          md5 = await md5OfFile(candidate);
          if (kerasFile.md5 && md5 !== kerasFile.md5) {
            problems.push(`${candidate} has md5 ${md5}, expected ${kerasFile.md5} (incomplete or another file)`);
            continue;
          }
        }
        return { status: 'present', path: candidate, format: 'keras-h5', includesTop, kerasFile, md5, message: `found ${candidate}` };
      }
    }
  }
  return {
    status: 'missing',
    path: null,
    format: null,
    includesTop: false,
    kerasFile: spec.imagenet?.notop ?? null,
    md5: null,
    message: missingWeightsMessage(spec, workspace, problems.join('; ') || undefined),
  };
}

/**
 * Downloads a Keras weight file into `destDir`, checking its md5; the file appears only when
 * complete and correct. Never called by tests or the default run.
 */
export async function downloadKerasWeights(kerasFile: KerasWeightFile, destDir: string): Promise<{ path: string; md5: string }> {
  await mkdir(destDir, { recursive: true });
  const dest = path.join(destDir, kerasFile.file);
  const partial = `${dest}.partial-${process.pid}`;
  try {
    const response = await fetch(kerasFile.url);
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const md5 = createHash('md5').update(bytes).digest('hex');
    if (kerasFile.md5 && md5 !== kerasFile.md5) throw new Error(`md5 ${md5}, expected ${kerasFile.md5}`);
    await writeFile(partial, bytes);
    await rename(partial, dest);
    return { path: dest, md5 };
  } catch (error) {
    await rm(partial, { force: true });
    throw new Error(`downloading ${kerasFile.url}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Loads resolved weights into `model`; a head in the file is ignored when the model has none. */
export async function loadResolvedWeights(
  model: tf.LayersModel,
  spec: ArchSpec,
  resolved: Pick<ResolvedWeights, 'status' | 'path' | 'format' | 'includesTop' | 'message'>,
): Promise<LoadReport> {
  if (resolved.status === 'missing' || !resolved.path) throw new StageError(resolved.message, `weights[arch=${spec.name}]`);
  const hasTop = model.layers.some((layer) => layer.name === 'predictions');
  const options = { strict: hasTop || !resolved.includesTop, renameSaved: spec.savedLayerName };
  return resolved.format === 'tfjs-manifest'
    ? loadTfjsManifestWeights(model, resolved.path, options)
    : loadKerasH5Weights(model, resolved.path, options);
}

/** Finds (without md5 check) and loads `spec`'s ImageNet weights, or throws the "put file X at Y" message. */
export async function loadImagenetWeights(
  model: tf.LayersModel,
  spec: ArchSpec,
  options: { workspace: string },
): Promise<LoadReport> {
  const resolved = await resolveImagenetWeights(spec, { workspace: options.workspace, verify: false });
  return loadResolvedWeights(model, spec, resolved);
}

/** Reads `<depDir>/weights.json` of a `weights` stage instance. */
export async function readWeightsRecord(depDir: string): Promise<WeightsRecord> {
  const file = path.join(depDir, 'weights.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as WeightsRecord;
  } catch (error) {
    throw new StageError(`cannot read (${error instanceof Error ? error.message : String(error)}); the weights stage writes it`, file);
  }
}

/** Loads the weights a `weights` stage instance published in `depDir` into `model`. */
export async function loadWeightsFromStage(model: tf.LayersModel, spec: ArchSpec, depDir: string): Promise<LoadReport> {
  const record = await readWeightsRecord(depDir);
  if (record.arch !== spec.name) {
    throw new StageError(`holds weights of ${record.arch}, not ${spec.name}`, path.join(depDir, 'weights.json'));
  }
  return loadResolvedWeights(model, spec, {
    status: record.status,
    path: record.file ? path.join(depDir, record.file) : null,
    format: record.format,
    includesTop: record.includesTop,
    message: record.message,
  });
}
