// Conv2D / FusedConv2D as matrix products. XNNPACK computes a convolution as a GEMM (1×1, stride 1) or
// an indirect GEMM (every other): each output summed from the bias over (ky, kx, channel) in that order,
// padding read as zeros, then clamped. leukopipe's native kernels do the same operations in the same
// order, so the bits are the same (test/tf/wasm-kernels.test.ts compares with the stock kernel), and
// faster on the networks' shapes (bench/results/backend.md): a 1×1 stride-1 convolution is one gemm_f32
// on x as an (N·H·W) × Cin matrix; any other with Cout a multiple of 8 and Cin ≥ 8 is conv_gemm, which gathers
// blocks of that matrix from x as it goes. Dilated convolutions and other activations stay stock.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, runStock } from '../wasm-kernel-utils.js';
import { ptr, simdKernels, withScratch } from '../simd-kernels.js';
import { epilogueArgs, gemm, gemmBlockOfK } from './batch-mat-mul.js';

type ConvAttrs = { strides: number | [number, number]; pad: unknown; dataFormat?: string; dilations?: number | [number, number]; activation?: string };

const ones = (v: number | [number, number] | undefined) => v === undefined || v === 1 || (Array.isArray(v) && v[0] === 1 && v[1] === 1);

/**
 * What the stock kernel does after the sum for a fused activation (measured on NaN: relu keeps it, relu6
 * makes it 0); undefined for activations left to the stock kernel.
 */
function clampOf(activation: string | undefined): 'relu' | [number, number] | null | undefined {
  if (activation === undefined || activation === 'linear') return null;
  if (activation === 'relu') return 'relu';
  if (activation === 'relu6') return [0, 6];
  return undefined;
}

/**
 * The convolution (+ bias, clamped) as a matrix product, or null where the stock kernel keeps it: a 1×1
 * stride-1 unpadded one is gemm_f32 on x as it lies; any other with Cout a multiple of 8 and Cin ≥ 8 is
 * conv_gemm (few input channels, an RGB stem, make the gathered runs too short to pay).
 */
export function convAsGemm(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, attrs: ConvAttrs & { dimRoundingMode?: 'floor' | 'round' | 'ceil' }, bias?: TensorInfo | null): TensorInfo | null {
  const clamp = clampOf(attrs.activation);
  const [kh, kw, ci, co] = filter.shape;
  if (kh === undefined || kw === undefined || ci === undefined || co === undefined || x.shape.length !== 4 || x.shape[3] !== ci) return null;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || !ones(attrs.dilations) || (attrs.dataFormat ?? 'NHWC') !== 'NHWC' || clamp === undefined) return null;
  if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== co)) return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
    attrs.strides, 1, attrs.pad as 'same', attrs.dimRoundingMode, false, 'channelsLast');
  const { top, bottom, left, right } = info.padInfo;
  const pointwise = kh === 1 && kw === 1 && info.strideHeight === 1 && info.strideWidth === 1 && top === 0 && bottom === 0 && left === 0 && right === 0;
  if (!pointwise && (co % 8 !== 0 || ci < 8)) return null;
  const out = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, co], 'float32');
  if (pointwise) {
    gemm(backend, x, filter, out, { m: info.batchSize * info.outHeight * info.outWidth, k: ci, n: co, bias: bias ?? null, clamp });
    return out;
  }
  const kc = gemmBlockOfK(kh * kw * ci, co);
  withScratch(backend, [kc * co * 4, 128 * kc * 4], (panels, ablock) =>
    simdKernels(backend).conv_gemm(ptr(backend, x), ptr(backend, filter), ptr(backend, out), info.batchSize, info.inHeight, info.inWidth, ci,
      info.outHeight, info.outWidth, co, kh, kw, info.strideHeight, info.strideWidth, top, left, panels!, ablock!, kc,
      ...epilogueArgs(backend, bias ?? null, clamp)));
  return out;
}

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function conv2D(args: Args): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs;
  const linear = { ...attrs, activation: 'linear' };
  return convAsGemm(backend, x, filter, linear) ?? runStock(backend, 'Conv2D', { x, filter }, attrs);
}

function fusedConv2D(args: Args): TensorInfo {
  const backend = args.backend as BackendWasm;
  const inputs = args.inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs;
  const ours = inputs.preluActivationWeights ? null : convAsGemm(backend, inputs.x, inputs.filter, attrs, inputs.bias ?? null);
  return ours ?? runStock(backend, 'FusedConv2D', inputs as Record<string, TensorInfo>, attrs);
}

export const conv2DConfig: tf.KernelConfig = { kernelName: 'Conv2D', backendName: 'wasm', kernelFunc: conv2D as unknown as tf.KernelFunc };
export const fusedConv2DConfig: tf.KernelConfig = { kernelName: 'FusedConv2D', backendName: 'wasm', kernelFunc: fusedConv2D as unknown as tf.KernelFunc };
