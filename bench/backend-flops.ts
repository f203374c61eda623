// Counts the multiply-add work of a Keras-style model, for GFLOP/s figures: 2 FLOPs per MAC of
// every Conv2D, DepthwiseConv2D and Dense layer; training adds the filter gradient (same cost) and
// the input gradient (same cost, skipped for layers fed directly by the model input).
import * as tf from '@tensorflow/tfjs';

export interface ModelFlops { forward: number; training: number }

export function countFlops(model: tf.LayersModel): ModelFlops {
  let forward = 0;
  let training = 0;
  const inputNames = new Set(model.inputs.map((t) => t.name));
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const out = layer.outputShape as number[];
    const inputs = layer.input;
    const input = Array.isArray(inputs) ? inputs[0]! : inputs;
    const inChannels = input.shape[input.shape.length - 1] ?? 0;
    let macs = 0;
    if (cls === 'Conv2D') {
      const [kh, kw, , co] = (layer.getWeights()[0]!.shape) as number[];
      macs = out[1]! * out[2]! * kh! * kw! * inChannels * co!;
    } else if (cls === 'DepthwiseConv2D') {
      const [kh, kw, c, m] = (layer.getWeights()[0]!.shape) as number[];
      macs = out[1]! * out[2]! * kh! * kw! * c! * m!;
    } else if (cls === 'Dense') {
      macs = inChannels * out[out.length - 1]!;
    }
    if (macs === 0) continue;
    const flops = 2 * macs;
    forward += flops;
    const fedByInput = inputNames.has(input.name);
    training += flops * (fedByInput ? 2 : 3);
  }
  return { forward, training };
}
