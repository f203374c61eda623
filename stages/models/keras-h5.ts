// Keras HDF5 weight files (`model.save_weights('x.h5')`, the Keras Applications downloads), read and
// written with h5wasm. Layout: root attribute `layer_names` (split into `layer_names0`,
// `layer_names1`, … when it outgrows an HDF5 object header), one group per layer with attribute
// `weight_names`, and each weight a dataset at `<layer>/<weight name>` (names contain `/`, so
// datasets sit in nested groups). Whole-model files keep the same layout under `model_weights`.
import { open } from 'node:fs/promises';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { Attribute, Group } from 'h5wasm';
import { assignLayerWeights, type LoadOptions, type LoadReport, type SavedLayer } from './weight-assignment.js';

type H5wasm = typeof import('h5wasm').default;
let h5wasmReady: Promise<H5wasm> | undefined;

/** h5wasm is ESM-only and initialises a wasm module; load it once, on first use. */
async function loadH5wasm(): Promise<H5wasm> {
  h5wasmReady ??= import('h5wasm/node').then(async (module) => {
    const h5wasm = module.default;
    await h5wasm.ready;
    return h5wasm;
  });
  return h5wasmReady;
}

function attributeStrings(attribute: Attribute): string[] {
  const value = attribute.json_value;
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => String(v));
}

/** Keras' `load_attributes_from_hdf5_group`: `name`, or `name0`, `name1`, … concatenated. */
function readStringListAttribute(group: Group, name: string, where: string): string[] {
  const attrs = group.attrs;
  const whole = attrs[name];
  if (whole) return attributeStrings(whole);
  const parts: string[] = [];
  for (let i = 0; attrs[`${name}${i}`]; i++) parts.push(...attributeStrings(attrs[`${name}${i}`]!));
  if (parts.length === 0 && !attrs[`${name}0`]) throw new Error(`${where}: no attribute '${name}' (not a Keras weight file?)`);
  return parts;
}

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** HDF5 puts its signature at byte 0, 512, 1024, 2048, … (after an optional user block). */
async function checkHdf5Signature(file: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new Error(`${file}: cannot open (${error instanceof Error ? error.message : String(error)})`);
  }
  try {
    const { size } = await handle.stat();
    for (let offset = 0; offset + 8 <= size; offset = offset === 0 ? 512 : offset * 2) {
      const { buffer } = await handle.read(Buffer.alloc(8), 0, 8, offset);
      if (buffer.equals(HDF5_SIGNATURE)) return;
    }
    throw new Error(`${file}: cannot open as HDF5 (no HDF5 signature; is it a Keras .h5 weight file?)`);
  } finally {
    await handle.close();
  }
}

/** Reads every layer's weights from a Keras `.h5` weight file, in file order. */
export async function readKerasH5Weights(file: string): Promise<SavedLayer[]> {
  await checkHdf5Signature(file);
  const h5wasm = await loadH5wasm();
  const absolute = path.resolve(file);
  let h5: InstanceType<H5wasm['File']>;
  try {
    h5 = new h5wasm.File(absolute, 'r');
  } catch (error) {
    throw new Error(`${file}: cannot open as HDF5 (${error instanceof Error ? error.message : String(error)})`);
  }
  try {
    let root: Group = h5;
    if (!h5.attrs['layer_names'] && !h5.attrs['layer_names0']) {
      const modelWeights = h5.get('model_weights');
      if (modelWeights instanceof h5wasm.Group) root = modelWeights;
    }
    const layerNames = readStringListAttribute(root, 'layer_names', file);
    return layerNames.map((layerName) => {
      const group = root.get(layerName);
      if (!(group instanceof h5wasm.Group)) throw new Error(`${file}: layer '${layerName}' is listed but has no group`);
      const weightNames = group.attrs['weight_names'] || group.attrs['weight_names0']
        ? readStringListAttribute(group, 'weight_names', `${file}: layer '${layerName}'`)
        : [];
      const weights = weightNames.map((weightName) => {
        const dataset = group.get(weightName);
        if (!(dataset instanceof h5wasm.Dataset)) {
          throw new Error(`${file}: weight '${layerName}/${weightName}' is listed but has no dataset`);
        }
        const raw = dataset.value;
        if (!ArrayBuffer.isView(raw) || raw instanceof DataView || typeof (raw as Float32Array)[0] === 'bigint') {
          throw new Error(`${file}: weight '${layerName}/${weightName}' is not a float dataset (dtype ${String(dataset.dtype)})`);
        }
        const values = raw instanceof Float32Array ? raw : Float32Array.from(raw as ArrayLike<number>);
        return { name: weightName, shape: dataset.shape ?? [], values };
      });
      return { name: layerName, weights };
    });
  } finally {
    h5.close();
  }
}

/** Loads a Keras `.h5` weight file into `model` by layer name (see weight-assignment.ts). */
export async function loadKerasH5Weights(
  model: tf.LayersModel,
  file: string,
  options: LoadOptions = {},
): Promise<LoadReport> {
  return assignLayerWeights(model, await readKerasH5Weights(file), file, options);
}

export interface WriteOptions {
  /** Split `layer_names` into `layer_names0`, `layer_names1`, … of at most this many names each
   *  (Keras splits when the attribute would exceed the 64 KiB object header). Default: never. */
  maxNamesPerAttribute?: number;
}

function writeStringListAttribute(group: Group, name: string, values: string[], maxPerAttribute: number): void {
  // Keras writes fixed-length byte strings (numpy 'S'); mirror that.
  const width = Math.max(1, ...values.map((v) => Buffer.byteLength(v)));
  if (values.length <= maxPerAttribute) {
    group.create_attribute(name, values, [values.length], `S${width}`);
    return;
  }
  for (let i = 0, chunk = 0; i < values.length; i += maxPerAttribute, chunk++) {
    const part = values.slice(i, i + maxPerAttribute);
    group.create_attribute(`${name}${chunk}`, part, [part.length], `S${width}`);
  }
}

/** Writes `model`'s weights as Keras `save_weights` does, so Keras (and this loader) can read them. */
export async function writeKerasH5Weights(model: tf.LayersModel, file: string, options: WriteOptions = {}): Promise<void> {
  const h5wasm = await loadH5wasm();
  const h5 = new h5wasm.File(path.resolve(file), 'w');
  try {
    const max = options.maxNamesPerAttribute ?? Number.POSITIVE_INFINITY;
    writeStringListAttribute(h5, 'layer_names', model.layers.map((l) => l.name), max);
    h5.create_attribute('backend', 'tensorflow');
    h5.create_attribute('keras_version', '2.15.0');
    for (const layer of model.layers) {
      const group = h5.create_group(layer.name);
      const weightNames = layer.weights.map((w) => `${w.originalName}:0`);
      writeStringListAttribute(group, 'weight_names', weightNames, Number.POSITIVE_INFINITY);
      layer.weights.forEach((weight, i) => {
        const values = weight.read().dataSync() as Float32Array;
        // Weight names contain `/` (`conv1/kernel:0`): HDF5 needs the intermediate groups made first.
        const parts = weightNames[i]!.split('/');
        let parent: Group = group;
        for (const sub of parts.slice(0, -1)) {
          const existing = parent.get(sub);
          parent = existing instanceof h5wasm.Group ? existing : parent.create_group(sub);
        }
        parent.create_dataset({ name: parts[parts.length - 1]!, data: values, shape: [...weight.shape] as number[], dtype: '<f' });
      });
    }
  } finally {
    h5.close();
  }
}
