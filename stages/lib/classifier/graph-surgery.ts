// Cutting a functional model in two at a layer, and putting a head on a base. Fine-tuning runs the
// frozen bottom in inference mode outside the gradient tape (tfjs would otherwise run its
// BatchNormalization layers in training mode even when frozen) and trains only the top, which may
// take several inputs (the cut, plus shallower tensors the top also reads).
import * as tf from '@tensorflow/tfjs';

function only<T>(value: T | T[], subject: string): T {
  if (Array.isArray(value)) {
    if (value.length !== 1) throw new Error(`${subject}: expected one tensor, got ${value.length}`);
    return value[0]!;
  }
  return value;
}

const CROSSING_POOLS = new Set(['GlobalAveragePooling2D', 'GlobalMaxPooling2D']);

/**
 * Splits `model` after layer `cutAfter`. `bottom` is the cut layer and everything it depends on; it
 * maps the model's input to every tensor of its own that the rest reads (the cut layer's output first;
 * then e.g. a skip connection or the pooled vector of a shallower feature-pyramid level). `top` is every other layer, with
 * one input per such tensor, sharing the layers (and weights) of `model`.
 */
export function splitModel(model: tf.LayersModel, cutAfter: string): { bottom: tf.LayersModel; top: tf.LayersModel } {
  const cut = model.getLayer(cutAfter);
  const cutOutput = only(cut.output as tf.SymbolicTensor | tf.SymbolicTensor[], `layer ${cutAfter}`);
  // The bottom: the cut layer and its ancestors.
  const below = new Set<tf.layers.Layer>();
  const stack: tf.layers.Layer[] = [cut];
  while (stack.length) {
    const layer = stack.pop()!;
    if (below.has(layer)) continue;
    below.add(layer);
    for (const node of layer.inboundNodes) for (const t of node.inputTensors) stack.push(t.sourceLayer as tf.layers.Layer);
  }
  // A global pool of a tensor below the cut (a feature-pyramid level) goes below too: it has no weights
  // and pools the same either side, and a vector crosses the cut instead of a whole feature map.
  for (const layer of model.layers) {
    if (below.has(layer) || !CROSSING_POOLS.has(layer.getClassName())) continue;
    const node = layer.inboundNodes[0];
    if (node && node.inputTensors.every((t) => below.has(t.sourceLayer as tf.layers.Layer))) below.add(layer);
  }
  const crossing: tf.SymbolicTensor[] = [cutOutput];
  const topInputs: tf.SymbolicTensor[] = [tf.input({ shape: cutOutput.shape.slice(1) as number[], name: `${cutAfter}_input` })];
  const mapped = new Map<number, tf.SymbolicTensor>([[cutOutput.id, topInputs[0]!]]);
  const topInputFor = (t: tf.SymbolicTensor): tf.SymbolicTensor => {
    const known = mapped.get(t.id);
    if (known) return known;
    if (!below.has(t.sourceLayer as tf.layers.Layer)) throw new Error(`cannot cut ${model.name} after ${cutAfter}: ${t.name} is read before it is computed`);
    const input = tf.input({ shape: t.shape.slice(1) as number[], name: `${t.sourceLayer.name}_input` });
    crossing.push(t);
    topInputs.push(input);
    mapped.set(t.id, input);
    return input;
  };
  // model.layers is in topological order, so every layer's inputs are mapped before it is applied.
  for (const layer of model.layers) {
    if (below.has(layer)) continue;
    const node = layer.inboundNodes[0];
    if (!node) continue;
    const inputs = node.inputTensors.map(topInputFor);
    const out = layer.apply(inputs.length === 1 ? inputs[0]! : inputs) as tf.SymbolicTensor | tf.SymbolicTensor[];
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((t, i) => mapped.set(t.id, outs[i]!));
  }
  const output = mapped.get(only(model.outputs, `${model.name} outputs`).id);
  if (!output) throw new Error(`cannot cut ${model.name} after ${cutAfter}: the output is not reachable from the cut`);
  const bottom = tf.model({ inputs: model.inputs, outputs: crossing.length === 1 ? crossing[0]! : crossing, name: `${model.name}_bottom` });
  const top = tf.model({ inputs: topInputs.length === 1 ? topInputs[0]! : topInputs, outputs: output, name: `${model.name}_top` });
  return { bottom, top };
}

/**
 * The name of the layer just before `firstTrainable` in `model`'s layer order that `firstTrainable`
 * depends on (side branches such as a feature-pyramid pool sharing its depth are passed over).
 */
export function layerBefore(model: tf.LayersModel, firstTrainable: string): string {
  const index = model.layers.findIndex((l) => l.name === firstTrainable);
  if (index < 0) throw new Error(`${model.name} has no layer "${firstTrainable}"`);
  if (index === 0) throw new Error(`${model.name}: "${firstTrainable}" is the input layer; nothing stays frozen`);
  const ancestors = new Set<tf.layers.Layer>();
  const stack = [model.layers[index]!];
  while (stack.length) {
    const layer = stack.pop()!;
    for (const node of layer.inboundNodes) {
      for (const t of node.inputTensors) {
        const source = t.sourceLayer as tf.layers.Layer;
        if (!ancestors.has(source)) ancestors.add(source), stack.push(source);
      }
    }
  }
  for (let i = index - 1; i >= 0; i--) if (ancestors.has(model.layers[i]!)) return model.layers[i]!.name;
  throw new Error(`${model.name}: no layer before "${firstTrainable}" feeds it`);
}

/**
 * The study's classifier head: Dense(256, relu) → Dropout(0.5) → Dense(classes, softmax); with
 * `standardize`, a BatchNormalization (or, with `normalization: 'layer'`, a LayerNormalization) of the features first. The levels of a feature pyramid differ in
 * scale by an order of magnitude, and an unnormalised head mostly listens to the loudest one (96.8% vs
 * 98.7–99.4% same-source on PBC in a head-only harness, BENCHMARKS.md). As a layer, the normalisation
 * keeps following the features while fine-tuning changes them, and the saved model stays plain Keras.
 */
export function createHeadLayers(classes: number, seed: number, options: { standardize?: boolean; normalization?: 'batch' | 'layer' } = {}): tf.layers.Layer[] {
  // 'layer': each vector standardised by its own statistics (no batch statistics, so nothing to adapt).
  const standardize = options.normalization === 'layer' ? tf.layers.layerNormalization({ name: 'head_standardize' }) : tf.layers.batchNormalization({ name: 'head_standardize' });
  return [
    ...(options.standardize ? [standardize] : []),
    tf.layers.dense({ units: 256, activation: 'relu', name: 'head_dense', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
    // No dropout seed: tfjs would then draw the same mask at every step.
    tf.layers.dropout({ rate: 0.5, name: 'head_dropout' }),
    tf.layers.dense({ units: classes, activation: 'softmax', name: 'head_predictions', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }),
  ];
}

export function applyLayers(x: tf.SymbolicTensor, layers: readonly tf.layers.Layer[]): tf.SymbolicTensor {
  return layers.reduce((t, layer) => layer.apply(t) as tf.SymbolicTensor, x);
}

/** A model of input shape `[dim]` through the head layers (what transfer training fits on cached features). */
export function headModel(dim: number, head: readonly tf.layers.Layer[]): tf.LayersModel {
  const input = tf.input({ shape: [dim], name: 'features' });
  return tf.model({ inputs: input, outputs: applyLayers(input, head), name: 'head' });
}

/** The whole inference model: base (pooled) → head layers, sharing weights with both. */
export function stackModel(base: tf.LayersModel, head: readonly tf.layers.Layer[], name: string): tf.LayersModel {
  const output = only(base.outputs, `${base.name} outputs`);
  return tf.model({ inputs: base.inputs, outputs: applyLayers(output, head), name });
}
