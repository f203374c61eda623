// DepthwiseConv2dNativeBackpropInput for wasm (missing in stock): an XNNPACK depthwise forward
// convolution of the zero-inserted gradient with the flipped filter, then a sum over the
// channel multiplier.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, dim, dispose, heapF32, runStock } from '../wasm-kernel-utils.js';
import { insertZeros, planTransposedConv } from './transposed-conv-plan.js';
import { cropTo } from './conv2d-backprop-input.js';

/** filter [kh, kw, c, m] → [kh, kw, c·m, 1], rotated 180° in space. */
function flipDepthwiseFilter(backend: BackendWasm, filter: TensorInfo): TensorInfo {
  const [kh, kw, c, m] = [dim(filter.shape, 0), dim(filter.shape, 1), dim(filter.shape, 2), dim(filter.shape, 3)];
  const out = backend.makeOutput([kh, kw, c * m, 1], 'float32');
  const src = heapF32(backend, filter);
  const dst = heapF32(backend, out);
  const taps = c * m;
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      const s = ((kh - 1 - y) * kw + (kw - 1 - x)) * taps;
      dst.set(src.subarray(s, s + taps), (y * kw + x) * taps);
    }
  }
  return out;
}

function depthwiseBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, attrs.dilations ?? 1,
    attrs.pad, attrs.dimRoundingMode, true, 'channelsLast');
  const plan = planTransposedConv(info);
  const multiplier = dim(filter.shape, 3);
  const flipped = flipDepthwiseFilter(backend, filter);
  const spread = insertZeros(backend, dy, info.strideHeight, info.strideWidth);
  let full = runStock(backend, 'DepthwiseConv2dNative', { x: spread, filter: flipped },
    { strides: [1, 1], pad: plan.pad, dilations: [info.dilationHeight, info.dilationWidth] });
  if (spread !== dy) dispose(backend, spread);
  dispose(backend, flipped);
  if (multiplier > 1) {
    const [n, h, w] = [dim(full.shape, 0), dim(full.shape, 1), dim(full.shape, 2)];
    const grouped = runStock(backend, 'Reshape', { x: full }, { shape: [n, h, w, info.inChannels, multiplier] });
    const summed = runStock(backend, 'Sum', { x: grouped }, { axis: [4], keepDims: false });
    dispose(backend, grouped, full);
    full = summed;
  }
  return cropTo(backend, full, plan.cropTop, plan.cropLeft, [...attrs.inputShape]);
}

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput as unknown as tf.KernelFunc,
};
