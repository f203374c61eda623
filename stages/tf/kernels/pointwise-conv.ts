// Conv2D / FusedConv2D with a 1×1 filter and stride 1 — MobileNet's pointwise layers, ResNet's
// bottleneck ends, most of both networks' arithmetic — as one matrix product: NHWC x is an
// (N·H·W) × Cin matrix and the filter a Cin × Cout one. XNNPACK computes such a convolution as a GEMM
// too, each output summed from the bias in channel order and then clamped; native gemm_f32 does the
// same operations in the same order, 15–27 % faster than XNNPACK's convolution on these shapes
// (bench/results/backend.md), so the bits are the same (test/tf/wasm-kernels.test.ts checks against the
// stock kernel). Every other convolution goes to the stock kernel.
import * as tf from '@tensorflow/tfjs';
import { type BackendWasm, type TensorInfo, runStock } from '../wasm-kernel-utils.js';
import { gemm } from './batch-mat-mul.js';

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

/** x · filter (+ bias, clamped) when the convolution is pointwise with stride 1; null otherwise. */
export function pointwiseConv(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, attrs: ConvAttrs, bias?: TensorInfo | null): TensorInfo | null {
  const [kh, kw, ci, co] = filter.shape;
  const clamp = clampOf(attrs.activation);
  const plainPad = attrs.pad === 'same' || attrs.pad === 'valid' || attrs.pad === 0;
  if (kh !== 1 || kw !== 1 || ci === undefined || co === undefined || x.shape.length !== 4 || x.shape[3] !== ci) return null;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || !ones(attrs.strides) || !ones(attrs.dilations) || !plainPad) return null;
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || clamp === undefined) return null;
  if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== co)) return null;
  const [n, h, w] = x.shape as [number, number, number, number];
  const out = backend.makeOutput([n, h, w, co], 'float32');
  gemm(backend, x, filter, out, { m: n * h * w, k: ci, n: co, bias: bias ?? null, clamp });
  return out;
}

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function conv2D(args: Args): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs;
  return pointwiseConv(backend, x, filter, { ...attrs, activation: 'linear' }) ?? runStock(backend, 'Conv2D', { x, filter }, attrs);
}

function fusedConv2D(args: Args): TensorInfo {
  const backend = args.backend as BackendWasm;
  const inputs = args.inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs;
  const ours = inputs.preluActivationWeights ? null : pointwiseConv(backend, inputs.x, inputs.filter, attrs, inputs.bias ?? null);
  return ours ?? runStock(backend, 'FusedConv2D', inputs as Record<string, TensorInfo>, attrs);
}

export const conv2DConfig: tf.KernelConfig = { kernelName: 'Conv2D', backendName: 'wasm', kernelFunc: conv2D as unknown as tf.KernelFunc };
export const fusedConv2DConfig: tf.KernelConfig = { kernelName: 'FusedConv2D', backendName: 'wasm', kernelFunc: fusedConv2D as unknown as tf.KernelFunc };
