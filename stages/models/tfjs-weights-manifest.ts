// TF.js layers weight files (`model.json` with a `weightsManifest` plus binary shards), as written
// by the tensorflowjs converter or tf.io; the shipped MobileNet weights come this way. Weight names
// are `<layer name>/<weight>` (the layer name may itself contain `/`), loaded by layer name.
// Quantized entries (the manifest's `quantization` field: float16, uint8, uint16) are decoded by
// tfjs's own `tf.io.decodeWeights`, so a float16 copy loads like the float32 original.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { assignLayerWeights, type LoadOptions, type LoadReport, type SavedLayer } from './weight-assignment.js';

export interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

/** Bytes one entry takes in the shards (quantized entries are stored narrower than their dtype). */
export function storedBytes(entry: ManifestEntry): number {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const stored = entry.quantization?.dtype ?? entry.dtype;
  const width = { float32: 4, int32: 4, float16: 2, uint16: 2, uint8: 1 }[stored];
  if (!width) throw new Error(`weight ${entry.name}: unsupported stored dtype ${stored}`);
  return count * width;
}

interface ManifestGroup {
  paths: string[];
  weights: ManifestEntry[];
}

function parseManifest(json: unknown, where: string): ManifestGroup[] {
  const manifest = (json as { weightsManifest?: unknown } | null)?.weightsManifest;
  if (!Array.isArray(manifest)) throw new Error(`${where}: no 'weightsManifest' array`);
  manifest.forEach((group: Partial<ManifestGroup>, i) => {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new Error(`${where}: weightsManifest[${i}] needs 'paths' and 'weights' arrays`);
    }
  });
  return manifest as ManifestGroup[];
}

/** Reads every weight of a TF.js weight manifest (`dir/model.json`), grouped by layer in file order. */
export async function readTfjsManifestWeights(dir: string): Promise<SavedLayer[]> {
  const manifestPath = path.join(dir, 'model.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (error) {
    throw new Error(`${manifestPath}: cannot read TF.js weight manifest (${error instanceof Error ? error.message : String(error)})`);
  }
  const layers = new Map<string, SavedLayer>();
  for (const group of parseManifest(json, manifestPath)) {
    const shards = await Promise.all(group.paths.map((p) => readFile(path.join(dir, p))));
    const bytes = Buffer.concat(shards);
    let offset = 0;
    for (const entry of group.weights) {
      if (entry.dtype !== 'float32') throw new Error(`${manifestPath}: weight ${entry.name} is ${entry.dtype}; only float32 weights are supported`);
      const end = offset + storedBytes(entry);
      if (end > bytes.length) throw new Error(`${manifestPath}: shards of ${group.paths.join(', ')} end before weight ${entry.name}`);
      // A copy into its own ArrayBuffer: the shard buffer's offset need not be aligned.
      const own = bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + end);
      offset = end;
      let values: Float32Array;
      if (entry.quantization) {
        const decoded = tf.io.decodeWeights(own, [entry as tf.io.WeightsManifestEntry])[entry.name]!;
        values = decoded.dataSync() as Float32Array;
        decoded.dispose();
      } else values = new Float32Array(own);
      const slash = entry.name.lastIndexOf('/');
      if (slash <= 0) throw new Error(`${manifestPath}: weight name ${JSON.stringify(entry.name)} has no '<layer>/' prefix`);
      const layerName = entry.name.slice(0, slash);
      const layer = layers.get(layerName) ?? { name: layerName, weights: [] };
      layer.weights.push({ name: entry.name, shape: entry.shape, values });
      layers.set(layerName, layer);
    }
  }
  return [...layers.values()];
}

/** Loads a TF.js weight manifest directory into `model` by layer name (see weight-assignment.ts). */
export async function loadTfjsManifestWeights(
  model: tf.LayersModel,
  dir: string,
  options: LoadOptions = {},
): Promise<LoadReport> {
  return assignLayerWeights(model, await readTfjsManifestWeights(dir), path.join(dir, 'model.json'), options);
}
