// Saves and loads a tfjs LayersModel to a plain directory in Node (`model.json` + `weights.bin`).
// tfjs without tfjs-node has no file:// handler, so this is the IOHandler the study uses everywhere.
import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { storedBytes } from '../../models/tfjs-weights-manifest.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** An IOHandler reading and writing `<dir>/model.json` and the weight files its manifest names. */
export function directoryHandler(dir: string): tf.io.IOHandler {
  const root = resolve(dir);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error(`${root}: binary model topologies are not supported`);
      }
      const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      await writeModelFiles(root, modelJson, new Uint8Array(weightData));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const modelJson = await readModelJson(root);
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => readWeights(root, manifest));
    },
  };
}

/**
 * Writes `<dir>/model.json` (whose manifest must name `./weights.bin`) and `<dir>/weights.bin`. Both are
 * written beside and renamed into place, weights first: a reader never sees a model.json whose weights
 * are half written.
 */
export async function writeModelFiles(dir: string, modelJson: tf.io.ModelJSON, weights: Uint8Array): Promise<void> {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  await writeFile(join(root, `${WEIGHTS_BIN}.tmp`), weights);
  await writeFile(join(root, `${MODEL_JSON}.tmp`), JSON.stringify(modelJson));
  await rename(join(root, `${WEIGHTS_BIN}.tmp`), join(root, WEIGHTS_BIN));
  await rename(join(root, `${MODEL_JSON}.tmp`), join(root, MODEL_JSON));
}

/** `<dir>/model.json`, parsed; errors name the file. */
export async function readModelJson(dir: string): Promise<tf.io.ModelJSON> {
  const jsonPath = join(resolve(dir), MODEL_JSON);
  if (!existsSync(jsonPath)) throw new Error(`${jsonPath}: no model here (model.json is missing)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(jsonPath, 'utf8'));
  } catch (error) {
    throw new Error(`${jsonPath}: not valid JSON (${(error as Error).message})`);
  }
  const json = parsed as Partial<tf.io.ModelJSON> | null;
  if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${jsonPath}: not a tfjs layers model (it needs "modelTopology" and a "weightsManifest" array)`);
  }
  return json as tf.io.ModelJSON;
}

/** Reads every weight file of a manifest (relative to `root`) into specs + one buffer. */
export async function readWeights(
  root: string,
  manifest: tf.io.WeightsManifestConfig,
): Promise<[tf.io.WeightsManifestEntry[], ArrayBuffer]> {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const group of manifest) {
    specs.push(...group.weights);
    const files: string[] = [];
    let size = 0;
    for (const path of group.paths) {
      const file = join(root, path);
      if (!existsSync(file)) throw new Error(`${file}: weight file named in the manifest is missing`);
      const bytes = await readFile(file);
      files.push(file);
      size += bytes.byteLength;
      buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    }
    // tfjs would read past the end of a truncated file and fail far from it (or not at all).
    const expected = expectedBytes(group.weights);
    if (expected !== null && size !== expected) {
      throw new Error(`${files.join(', ')}: ${size} bytes, but model.json's weightsManifest describes ${expected} (truncated, or the weights of another model)`);
    }
  }
  return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
}

/** Bytes a manifest group's weights take in its files; null when a dtype has no fixed width (strings). */
function expectedBytes(weights: tf.io.WeightsManifestEntry[]): number | null {
  let total = 0;
  for (const w of weights) {
    try {
      total += storedBytes(w);
    } catch {
      return null;
    }
  }
  return total;
}

/** Saves the whole model (topology + weights) into `dir`, replacing what was there. */
export async function saveModelToDirectory(model: tf.LayersModel, dir: string): Promise<void> {
  await rm(join(dir, MODEL_JSON), { force: true });
  await mkdir(dirname(resolve(dir)), { recursive: true });
  await model.save(directoryHandler(dir));
}

/** Loads a model saved by `saveModelToDirectory` (or any layers-model directory). */
export async function loadModelFromDirectory(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(directoryHandler(dir));
}
