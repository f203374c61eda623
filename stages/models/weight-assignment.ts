// Puts saved weights into a model layer by layer, the way Keras does: layers are matched by name,
// and within a layer weights are taken in the layer's own order (conv kernel then bias; BN gamma,
// beta, moving mean, moving variance; separable depthwise then pointwise then bias). Nothing is
// assigned unless every check passes, so a failed load never leaves a half-loaded model.
import * as tf from '@tensorflow/tfjs';

export interface SavedWeight {
  /** Name as stored (for messages only; Keras matches by position inside the layer). */
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface SavedLayer {
  name: string;
  weights: SavedWeight[];
}

export interface LoadOptions {
  /** Fail when the file holds weighted layers the model lacks. Default true; false loads a
   *  with-top file into a model without its head. */
  strict?: boolean;
  /** The model's name for a layer of the file, where the file uses other names (older Keras). */
  renameSaved?: (fileLayerName: string) => string;
}

export interface LoadReport {
  /** Model layers that received weights. */
  loaded: string[];
  /** Weighted layers of the file that the model does not have (only when not strict). */
  unused: string[];
  /** [model layer, file layer] pairs matched by Keras' automatic numbering rather than by identical name. */
  renumbered: Array<[string, string]>;
}

const LIST_LIMIT = 15;

function listed(items: string[]): string {
  const shown = items.slice(0, LIST_LIMIT).join(', ');
  return items.length > LIST_LIMIT ? `${shown}, … (${items.length - LIST_LIMIT} more)` : shown;
}

/** `conv2d_12` → ['conv2d', 12]; `conv2d` → ['conv2d', 0]. */
function autoNameParts(name: string): [string, number] {
  const match = /^(.*?)_(\d+)$/.exec(name);
  return match ? [match[1]!, Number(match[2])] : [name, 0];
}

function groupByAutoName(names: string[]): Map<string, string[]> {
  const byPrefix = new Map<string, Array<[number, string]>>();
  for (const name of names) {
    const [prefix, n] = autoNameParts(name);
    byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), [n, name]]);
  }
  return new Map([...byPrefix].map(([prefix, list]) => [prefix, list.sort((a, b) => a[0] - b[0]).map(([, n]) => n)]));
}

/**
 * Pairs model layers with file layers. Layers Keras left unnamed are numbered per session
 * (`conv2d_1`, `conv2d_2`, … in Keras 2.0 files; `conv2d`, `conv2d_1`, … later), so a name can
 * point at the wrong layer. Where a name prefix has equally many layers on both sides, they are
 * paired in numbering order (creation order on both sides; identical to pairing by name when the
 * numbers agree); otherwise layers are paired by identical name only.
 */
function pairLayers(modelNames: string[], fileNames: string[]) {
  const modelGroups = groupByAutoName(modelNames);
  const fileGroups = groupByAutoName(fileNames);
  const fileSet = new Set(fileNames);
  const pairs: Array<[string, string]> = [];
  const missing: string[] = [];
  const pairedFile = new Set<string>();
  for (const [prefix, modelList] of modelGroups) {
    const fileList = fileGroups.get(prefix) ?? [];
    if (fileList.length === modelList.length) {
      modelList.forEach((name, i) => pairs.push([name, fileList[i]!]));
      fileList.forEach((name) => pairedFile.add(name));
      continue;
    }
    for (const name of modelList) {
      if (fileSet.has(name)) {
        pairs.push([name, name]);
        pairedFile.add(name);
      } else missing.push(name);
    }
  }
  const unexpected = fileNames.filter((name) => !pairedFile.has(name));
  return { pairs, missing, unexpected };
}

/** Loads `saved` into `model`; `source` names the file in error messages. */
export function assignLayerWeights(
  model: tf.LayersModel,
  saved: SavedLayer[],
  source: string,
  options: LoadOptions = {},
): LoadReport {
  const strict = options.strict ?? true;
  const modelLayers = model.layers.filter((layer) => layer.weights.length > 0);
  const rename = options.renameSaved ?? ((name: string) => name);
  const fileLayers = new Map(saved.filter((l) => l.weights.length > 0).map((l) => [rename(l.name), l]));

  const matched = pairLayers(
    modelLayers.map((l) => l.name),
    [...fileLayers.keys()],
  );
  const { missing, unexpected } = matched;
  const pairs = matched.pairs.map(([m, f]) => [model.getLayer(m), fileLayers.get(f)!] as const);
  const renumbered = matched.pairs.filter(([m, f]) => m !== f);

  const misShaped: string[] = [];
  for (const [layer, savedLayer] of pairs) {
    const expected = layer.weights.map((w) => w.shape);
    const got = savedLayer.weights.map((w) => w.shape);
    const same =
      expected.length === got.length && expected.every((shape, i) => shape.join(',') === got[i]!.join(','));
    if (!same) {
      const fmt = (shapes: Array<readonly (number | null)[]>) => shapes.map((s) => `[${s.join(',')}]`).join(' ');
      const label = layer.name === savedLayer.name ? layer.name : `${layer.name} (file: ${savedLayer.name})`;
      misShaped.push(`${label}: model ${fmt(expected)} vs file ${fmt(got)}`);
    }
  }

  const problems: string[] = [];
  if (missing.length) problems.push(`missing in file (${missing.length}): ${listed(missing)}`);
  if (strict && unexpected.length) problems.push(`unexpected in file (${unexpected.length}): ${listed(unexpected)}`);
  if (misShaped.length) problems.push(`mis-shaped (${misShaped.length}): ${listed(misShaped)}`);
  if (problems.length) {
    throw new Error(
      `cannot load weights from ${source} into model ${model.name}:\n  ` +
        problems.join('\n  ') +
        (strict && unexpected.length && !missing.length && !misShaped.length
          ? '\n  (load with strict: false to ignore layers the model does not have, e.g. a classifier head)'
          : ''),
    );
  }

  for (const [layer, savedLayer] of pairs) {
    const tensors = savedLayer.weights.map((w) => tf.tensor(w.values, w.shape, 'float32'));
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
  return { loaded: pairs.map(([layer]) => layer.name), unused: unexpected, renumbered };
}
