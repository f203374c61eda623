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
 * builds from tf.moments): the five gradients from one pass (batch_norm_grad). The small per-channel
 * factors are formed with tfjs's own ops, as its formula forms them.
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
    const r = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const negR = tf.mul(r, tf.scalar(-1));
    const m = tf.mul(tf.mul(tf.mul(r, r), r), tf.scalar(-0.5));
    const [dx, dMean, dVar, dScale, dOffset] = run(BATCH_NORM_GRAD, { x, dy: g, mean: meanT, r, negR, m, scale }) as tf.Tensor[];
    // Unused results are disposed with the backward pass's scope, as tfjs's eager intermediates are.
    return { x: () => dx!, mean: () => dMean!, variance: () => dVar!, scale: () => dScale!, offset: () => dOffset! };
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
  installed = true;
}
