// Several trained classifiers with the same input merged into ONE plain Keras functional model whose
// output is the mean of their class probabilities. Done on the saved JSON and weight bytes, not on live
// tfjs objects: every member layer is renamed with a prefix (so names stay unique and weights still
// load by name), the members' input layers become one shared input, and an `Average` layer joins the
// members' outputs. A member that also takes the cell's size (cell-size.ts) reads a second shared input,
// `ensemble_cell_size`, which the merged model then takes too. The result loads with `tf.loadLayersModel` like any model, so `pipe predict`,
// evaluate and other tools need nothing special to use it.
import type * as tf from '@tensorflow/tfjs';
import { readModelJson, readWeights, WEIGHTS_BIN, writeModelFiles } from './model-directory.js';
import { CELL_SIZE_INPUT } from './cell-size.js';

/** A saved layers model: its model.json and the bytes of its weights (manifest order). */
export interface SavedModel {
  json: tf.io.ModelJSON;
  weights: Uint8Array;
}

interface LayerJson {
  name: string;
  class_name: string;
  config: Record<string, unknown> & { name?: string };
  inbound_nodes: unknown[];
}

interface FunctionalConfig {
  name: string;
  layers: LayerJson[];
  input_layers: [string, number, number][];
  output_layers: [string, number, number][];
}

export const ENSEMBLE_INPUT = 'ensemble_input';
export const ENSEMBLE_OUTPUT = 'ensemble_mean';
export const ENSEMBLE_CELL_SIZE = `ensemble_${CELL_SIZE_INPUT}`;

const BYTES_PER_DTYPE: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1 };

function functionalConfig(model: SavedModel, label: string): FunctionalConfig {
  const topology = model.json.modelTopology as { class_name?: string; config?: unknown; model_config?: { class_name?: string; config?: unknown } };
  const inner = topology.model_config ?? topology;
  if (inner.class_name !== 'Model' && inner.class_name !== 'Functional') {
    throw new Error(`${label}: only functional models can be merged (model.json has class "${inner.class_name ?? 'unknown'}")`);
  }
  const config = inner.config as FunctionalConfig;
  const inputs = config.input_layers.length;
  const sizeSecond = inputs === 2 && config.input_layers[1]![0] === CELL_SIZE_INPUT;
  if ((inputs !== 1 && !sizeSecond) || config.output_layers.length !== 1) {
    throw new Error(`${label}: a member must have one input (or the image and the cell's size) and one output (has ${inputs} and ${config.output_layers.length})`);
  }
  return config;
}

function topologyField(model: tf.io.ModelJSON, field: string): unknown {
  return (model.modelTopology as Record<string, unknown>)[field] ?? null;
}

/** Rewrites every layer reference inside an inbound-node list through `rename`. */
function renameInbound(nodes: unknown[], rename: (name: string) => string): unknown[] {
  return nodes.map((node) =>
    (node as unknown[]).map((call) => {
      const [layer, ...rest] = call as [string, ...unknown[]];
      return [rename(layer), ...rest];
    }),
  );
}

function weightBytes(spec: tf.io.WeightsManifestEntry, label: string): number {
  if (spec.quantization) throw new Error(`${label}: quantized weight "${spec.name}" cannot be merged`);
  const size = BYTES_PER_DTYPE[spec.dtype];
  if (size === undefined) throw new Error(`${label}: weight "${spec.name}" has unsupported dtype ${spec.dtype}`);
  return size * spec.shape.reduce((a, b) => a * b, 1);
}

/**
 * Merges the members into one model averaging their outputs. `prefixes[k]` is prepended to every layer
 * and weight name of member k (e.g. "transfer__"). All members must take the same input shape and give
 * the same number of outputs; the caller checks that their preprocessing agrees.
 */
export function mergeAveragingEnsemble(members: readonly SavedModel[], prefixes: readonly string[], name = 'ensemble'): SavedModel {
  if (members.length === 0) throw new Error('an ensemble needs at least one member');
  if (new Set(prefixes).size !== members.length) throw new Error(`each member needs its own prefix (got ${prefixes.join(', ')})`);
  const layers: LayerJson[] = [];
  const outputs: [string, number, number, Record<string, never>][] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  let inputLayer: LayerJson | null = null;
  let sizeLayer: LayerJson | null = null;

  members.forEach((member, k) => {
    const prefix = prefixes[k]!;
    const label = `member ${k + 1} (${prefix})`;
    const config = functionalConfig(member, label);
    const inputName = config.input_layers[0]![0];
    const sizeName = config.input_layers[1]?.[0] ?? null;
    const own = new Set(config.layers.map((l) => l.name));
    const rename = (layer: string) => {
      if (!own.has(layer)) throw new Error(`${label}: a node refers to unknown layer "${layer}"`);
      return layer === inputName ? ENSEMBLE_INPUT : layer === sizeName ? ENSEMBLE_CELL_SIZE : prefix + layer;
    };
    for (const layer of config.layers) {
      if (layer.name === sizeName) {
        sizeLayer ??= { ...layer, name: ENSEMBLE_CELL_SIZE, config: { ...layer.config, name: ENSEMBLE_CELL_SIZE } };
        continue;
      }
      if (layer.name === inputName) {
        const shape = JSON.stringify(layer.config.batch_input_shape ?? layer.config.batchInputShape);
        if (!inputLayer) inputLayer = { ...layer, name: ENSEMBLE_INPUT, config: { ...layer.config, name: ENSEMBLE_INPUT } };
        else if (JSON.stringify(inputLayer.config.batch_input_shape ?? inputLayer.config.batchInputShape) !== shape) {
          throw new Error(`${label}: input shape ${shape} differs from the first member's ${JSON.stringify(inputLayer.config.batch_input_shape)}`);
        }
        continue;
      }
      layers.push({ ...layer, name: prefix + layer.name, config: { ...layer.config, name: prefix + layer.name }, inbound_nodes: renameInbound(layer.inbound_nodes, rename) });
    }
    const [outName, node, tensor] = config.output_layers[0]!;
    outputs.push([rename(outName), node, tensor, {}]);

    // Weights: names are "<layer>/<weight>"; the bytes of member k follow in its manifest's order.
    const memberSpecs = (member.json.weightsManifest ?? []).flatMap((group) => group.weights);
    let total = 0;
    for (const spec of memberSpecs) {
      const slash = spec.name.indexOf('/');
      const layer = slash < 0 ? spec.name : spec.name.slice(0, slash);
      if (!own.has(layer)) throw new Error(`${label}: weight "${spec.name}" belongs to no layer of the model`);
      specs.push({ ...spec, name: prefix + spec.name });
      total += weightBytes(spec, label);
    }
    if (total !== member.weights.byteLength) {
      throw new Error(`${label}: the manifest describes ${total} bytes of weights but the weight data has ${member.weights.byteLength}`);
    }
    chunks.push(member.weights);
  });

  const average: LayerJson = {
    name: ENSEMBLE_OUTPUT,
    class_name: 'Average',
    config: { name: ENSEMBLE_OUTPUT, trainable: false, dtype: 'float32' },
    inbound_nodes: [outputs],
  };
  // Keras's Average needs two inputs or more; one member is passed through unchanged.
  const single = outputs.length === 1 ? outputs[0]! : null;
  const inputLayers: LayerJson[] = [inputLayer!, ...(sizeLayer ? [sizeLayer] : [])];
  const config: FunctionalConfig = {
    name,
    layers: single ? [...inputLayers, ...layers] : [...inputLayers, ...layers, average],
    input_layers: inputLayers.map((l) => [l.name, 0, 0]),
    output_layers: [single ? [single[0], single[1], single[2]] : [ENSEMBLE_OUTPUT, 0, 0]],
  };
  const first = members[0]!.json;
  const weights = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    weights.set(c, offset);
    offset += c.byteLength;
  }
  return {
    json: {
      modelTopology: { class_name: 'Model', config, keras_version: topologyField(first, 'keras_version'), backend: topologyField(first, 'backend') },
      format: first.format ?? 'layers-model',
      generatedBy: first.generatedBy,
      convertedBy: null,
      weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: specs }],
    },
    weights,
  };
}

/** Reads a model directory (model.json and its weight files) without building the model. */
export async function readSavedModel(dir: string): Promise<SavedModel> {
  const json = await readModelJson(dir);
  const [, buffer] = await readWeights(dir, json.weightsManifest ?? []);
  return { json, weights: new Uint8Array(buffer) };
}

/** Writes a merged model into `dir` as model.json + weights.bin. */
export function writeSavedModel(dir: string, model: SavedModel): Promise<void> {
  return writeModelFiles(dir, model.json, model.weights);
}
