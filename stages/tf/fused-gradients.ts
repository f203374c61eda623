// Gradient functions that do in one pass what tfjs's do in several, for the ops every conv-net
// training step differentiates many times: batch normalisation in training mode (moments, then
// FusedBatchNorm), ReLU, ReLU6 (ClipByValue) and Mean. tfjs's own formulas run 3–12 element-wise
// kernels each, a pass over an activation-sized tensor apiece; on a MobileNet step they were ~30 %
// of the time. The replacements compute the same float32 operations in the same order (see
// kernels/fused-gradient-kernels.ts), so the gradients are the same bits as tfjs's; test/tf checks.
//
// tfjs keeps one gradient per op for every backend, so each replacement falls back to the gradient
// it replaced unless the active backend is wasm with leukopipe's kernels, and for shapes it does
// not cover.
import * as tf from '@tensorflow/tfjs';
import { BATCH_NORM_GRAD, CLIP_GRAD, RELU_GRAD, SQUARE_GRAD } from './kernels/fused-gradient-kernels.js';

type GradFunc = tf.GradConfig['gradFunc'];

let enabled = true;
const active = () => enabled && tf.getBackend() === 'wasm' && tf.getKernel(RELU_GRAD, 'wasm') !== undefined;
/** Whether leukopipe's fused gradients serve this backend now (wasm with leukopipe's kernels, not switched off). */
export const fusedGradientsActive = active;

/** Switches the fused gradients off (tfjs's own formulas) or on again: for A/B checks and benchmarks. */
export function setFusedGradients(on: boolean): void {
  enabled = on;
}
const run = (kernel: string, inputs: tf.NamedTensorMap, attrs: object = {}) =>
  tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap);

/** dy · step(x) (tfjs: mul(dy, cast(step(x), 'float32'))). */
function relu(original: GradFunc): GradFunc {
  return (dy, saved, attrs) => {
    const [x] = saved as tf.Tensor[];
    const g = dy as tf.Tensor;
    if (!active() || !x || x.dtype !== 'float32') return original(dy, saved, attrs);
    return { x: () => run(RELU_GRAD, { dy: g, x }) as tf.Tensor };
  };
}

/** dy · (x · 2) (tfjs: mul(dy, mul(cast(x, 'float32'), 2))). */
function square(original: GradFunc): GradFunc {
  return (dy, saved, attrs) => {
    const [x] = saved as tf.Tensor[];
    if (!active() || !x || x.dtype !== 'float32') return original(dy, saved, attrs);
    return { x: () => run(SQUARE_GRAD, { dy: dy as tf.Tensor, x }) as tf.Tensor };
  };
}

/** dy inside [min, max], else 0 (tfjs: where(x ≥ min and x ≤ max, dy, zerosLike(dy))). */
function clipByValue(original: GradFunc): GradFunc {
  return (dy, saved, attrs) => {
    const [x] = saved as tf.Tensor[];
    if (!active() || !x || x.dtype !== 'float32') return original(dy, saved, attrs);
    const { clipValueMin, clipValueMax } = attrs as unknown as { clipValueMin: number; clipValueMax: number };
    return { x: () => run(CLIP_GRAD, { dy: dy as tf.Tensor, x }, { min: clipValueMin, max: clipValueMax }) as tf.Tensor };
  };
}

/**
 * Mean over some axes: every input element gets dy / n. tfjs forms dy · ones(x.shape) / n — two
 * passes and a tensor of ones; dividing the small dy first and tiling it gives each element the
 * same single division (dy · 1 is dy exactly), so the same bits.
 */
function mean(original: GradFunc): GradFunc {
  return (dy, saved, attrs) => {
    const [x] = saved as tf.Tensor[];
    const g = dy as tf.Tensor;
    if (!active() || !x || g.dtype !== 'float32') return original(dy, saved, attrs);
    const axes = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x.shape);
    const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const reps = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
    const n = axes.reduce((p, a) => p * (x.shape[a] ?? 1), 1);
    return { x: () => tf.tile(tf.div(tf.reshape(g, expanded), n), reps) };
  };
}

/**
 * FusedBatchNorm with per-channel statistics over the leading axes (what tfjs-layers' training mode
 * builds from tf.moments): the five gradients from one pass (batch_norm_grad).
 */
function fusedBatchNorm(original: GradFunc): GradFunc {
  return (dy, saved, attrs) => {
    const [x, meanT, variance, scale] = saved as Array<tf.Tensor | undefined>;
    const g = dy as tf.Tensor;
    const channels = x?.shape[x.shape.length - 1];
    const covered = active() && x && meanT && variance && scale && x.dtype === 'float32' && g.dtype === 'float32'
      && meanT.rank === 1 && [meanT, variance, scale].every((t) => t.rank === 1 && t.shape[0] === channels && t.dtype === 'float32');
    if (!covered) return original(dy, saved, attrs);
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const [dx, dMean, dVar, dScale, dOffset] = batchNormGradients(x, g, meanT, variance, scale, varianceEpsilon);
    // Unused results are disposed with the backward pass's scope, as tfjs's eager intermediates are.
    return { x: () => dx, mean: () => dMean, variance: () => dVar, scale: () => dScale, offset: () => dOffset };
  };
}

/**
 * FusedBatchNorm's five gradients [dx, dMean, dVar, dScale, dOffset] (per-channel statistics, float32;
 * wasm with leukopipe's kernels). The small per-channel factors are formed with tfjs's own ops, as
 * its formula forms them.
 */
export function batchNormGradients(x: tf.Tensor, dy: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, scale: tf.Tensor,
  varianceEpsilon: number): [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor] {
  const r = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
  const negR = tf.mul(r, tf.scalar(-1));
  const m = tf.mul(tf.mul(tf.mul(r, r), r), tf.scalar(-0.5));
  return run(BATCH_NORM_GRAD, { x, dy, mean, r, negR, m, scale }) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
}

/**
 * FusedConv2D's gradient as lazy functions, so that an input no one differentiates costs nothing. tfjs's
 * fused conv2d computes all of its gradients eagerly (customGrad), and for the first layer of a network
 * the input gradient — a full transposed convolution — is thrown away: ~15 % of a MobileNet step. The
 * same ops as tfjs's formula (getFusedBiasGradient, conv2DBackpropInput/Filter), so the same bits.
 */
const fusedConv2dGradient: tf.GradConfig = {
  kernelName: 'FusedConv2D',
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const g = dy as tf.Tensor4D;
    const { strides, pad } = attrs as unknown as { strides: [number, number]; pad: 'same' | 'valid' };
    // The kernels tfjs's conv2DBackpropInput / conv2DBackpropFilter ops run, with the attributes they pass.
    const common = { strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
    return {
      x: () => run('Conv2DBackpropInput', { dy: g, filter }, { ...common, inputShape: x.shape }) as tf.Tensor,
      filter: () => run('Conv2DBackpropFilter', { x, dy: g }, { ...common, filterShape: filter.shape }) as tf.Tensor,
      bias: () => tf.sum(g, [0, 1, 2]),
    };
  },
};

type FusedConv2d = (args: Parameters<typeof tf.fused.conv2d>[0]) => tf.Tensor;

/**
 * tf.fused.conv2d in training mode with a linear activation (what every conv layer before a batch norm
 * is) through the FusedConv2D kernel and the lazy gradient above; everything else as tfjs does it.
 */
function lazyFusedConv2d(original: FusedConv2d): FusedConv2d {
  return (args) => {
    const { x, filter, bias, strides, pad, dataFormat, dilations, dimRoundingMode, activation, preluActivationWeights } = args;
    const training = (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
    const plain = (d: number | [number, number] | undefined) => d === undefined || d === 1 || (Array.isArray(d) && d[0] === 1 && d[1] === 1);
    const covered = active() && training && (activation ?? 'linear') === 'linear' && (dataFormat ?? 'NHWC') === 'NHWC' && plain(dilations)
      && preluActivationWeights == null && dimRoundingMode == null && typeof pad === 'string'
      && x instanceof tf.Tensor && x.rank === 4 && x.dtype === 'float32' && filter instanceof tf.Tensor && filter.rank === 4
      && (bias == null || (bias instanceof tf.Tensor && bias.rank === 1 && bias.shape[0] === filter.shape[3] && bias.dtype === 'float32'));
    if (!covered) return original(args);
    const inputs: tf.NamedTensorMap = bias == null ? { x, filter } : { x, filter, bias: bias as tf.Tensor };
    const attrs = { strides, pad, dataFormat: 'NHWC', dilations: dilations ?? [1, 1], dimRoundingMode, activation: 'linear' };
    return run('FusedConv2D', inputs, attrs) as tf.Tensor;
  };
}

const REPLACEMENTS: Record<string, (original: GradFunc) => GradFunc> = {
  Relu: relu, Square: square, ClipByValue: clipByValue, Mean: mean, FusedBatchNorm: fusedBatchNorm,
};

let installed = false;

/** Idempotent. Replaces the gradients above for every backend; each defers to tfjs's off wasm. */
export function installFusedGradients(): void {
  if (installed) return;
  for (const [kernelName, replace] of Object.entries(REPLACEMENTS)) {
    const config = tf.getGradient(kernelName);
    if (!config) throw new Error(`tfjs has no gradient for ${kernelName} to replace`);
    tf.registerGradient({ ...config, gradFunc: replace(config.gradFunc) });
  }
  tf.registerGradient(fusedConv2dGradient);
  // tfjs-layers calls the op through this (mutable) object, so replacing it here reaches every conv layer.
  const fused = tf.fused as unknown as { conv2d: FusedConv2d };
  fused.conv2d = lazyFusedConv2d(fused.conv2d);
  installed = true;
}
