// Cutting a functional model in two at a layer, and putting a head on a base. Fine-tuning runs the
// frozen bottom in inference mode outside the gradient tape (tfjs would otherwise run its
// BatchNormalization layers in training mode even when frozen) and trains only the top.
import * as tf from '@tensorflow/tfjs';

function only<T>(value: T | T[], subject: string): T {
  if (Array.isArray(value)) {
    if (value.length !== 1) throw new Error(`${subject}: expected one tensor, got ${value.length}`);
    return value[0]!;
  }
  return value;
}

/**
 * Splits `model` after layer `cutAfter`: `bottom` maps the model's input to that layer's output,
 * `top` maps a new input of that shape to the model's output, sharing the layers (and weights).
 * Fails, naming the layer, when a connection skips across the cut.
 */
export function splitModel(model: tf.LayersModel, cutAfter: string): { bottom: tf.LayersModel; top: tf.LayersModel } {
  const cut = model.getLayer(cutAfter);
  const cutIndex = model.layers.indexOf(cut);
  const cutOutput = only(cut.output as tf.SymbolicTensor | tf.SymbolicTensor[], `layer ${cutAfter}`);
  const bottom = tf.model({ inputs: model.inputs, outputs: cutOutput, name: `${model.name}_bottom` });
  const topInput = tf.input({ shape: cutOutput.shape.slice(1) as number[], name: `${cutAfter}_input` });
  const mapped = new Map<number, tf.SymbolicTensor>([[cutOutput.id, topInput]]);
  for (const layer of model.layers.slice(cutIndex + 1)) {
    const node = layer.inboundNodes[0];
    if (!node) continue;
    const inputs = node.inputTensors.map((t) => {
      const m = mapped.get(t.id);
      if (!m) throw new Error(`cannot cut ${model.name} after ${cutAfter}: layer ${layer.name} also reads ${t.name} from below the cut`);
      return m;
    });
    const out = layer.apply(inputs.length === 1 ? inputs[0]! : inputs) as tf.SymbolicTensor | tf.SymbolicTensor[];
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((t, i) => mapped.set(t.id, outs[i]!));
  }
  const output = mapped.get(only(model.outputs, `${model.name} outputs`).id);
  if (!output) throw new Error(`cannot cut ${model.name} after ${cutAfter}: the output is not reachable from the cut`);
  return { bottom, top: tf.model({ inputs: topInput, outputs: output, name: `${model.name}_top` }) };
}

/** The name of the layer just before `firstTrainable` in `model`'s layer order. */
export function layerBefore(model: tf.LayersModel, firstTrainable: string): string {
  const index = model.layers.findIndex((l) => l.name === firstTrainable);
  if (index < 0) throw new Error(`${model.name} has no layer "${firstTrainable}"`);
  if (index === 0) throw new Error(`${model.name}: "${firstTrainable}" is the input layer; nothing stays frozen`);
  return model.layers[index - 1]!.name;
}

/** The study's classifier head: Dense(256, relu) → Dropout(0.5) → Dense(classes, softmax). */
export function createHeadLayers(classes: number, seed: number): tf.layers.Layer[] {
  return [
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
