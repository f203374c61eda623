// Every leukopipe wasm kernel against the pure-JS cpu backend on random inputs: strides 1 and 2,
// same/valid/explicit padding, kernel sizes 1–7, depthwise multipliers 1–2.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../stages/tf/backend.js';
import { filterGradLimits } from '../../stages/tf/kernels/conv2d-backprop-filter.js';

await initBackend({ prefer: 'wasm', quiet: true });

/** Deterministic pseudo-random values in [-1, 1). */
function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs one kernel on a backend with fresh tensors and returns its values. */
function runOn(backend: string, kernel: string, inputs: Record<string, { shape: number[]; values: Float32Array | Int32Array; dtype?: 'float32' | 'int32' }>, attrs: object): { shape: number[]; values: Float32Array } {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const tensors: Record<string, tf.Tensor> = {};
    for (const [name, spec] of Object.entries(inputs)) tensors[name] = tf.tensor(spec.values, spec.shape, spec.dtype ?? 'float32');
    const out = tf.engine().runKernel(kernel, tensors as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
    return { shape: out.shape, values: Float32Array.from(out.dataSync()) };
  });
}

/** Max abs difference relative to the largest reference magnitude. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / scale;
}

function compare(label: string, kernel: string, inputs: Parameters<typeof runOn>[2], attrs: object): void {
  const expected = runOn('cpu', kernel, inputs, attrs);
  const actual = runOn('wasm', kernel, inputs, attrs);
  assert.equal(actual.shape, expected.shape, `${label}: shape`);
  const err = relativeError(actual.values, expected.values);
  assert.ok(err < 1e-5, `${label}: relative error ${err}`);
}

const paddings = ['same', 'valid'] as const;

test('Conv2DBackpropFilter and Conv2DBackpropInput match cpu (k 1–7, stride 1–2, same/valid)', () => {
  let seed = 1;
  for (let k = 1; k <= 7; k++) {
    for (const stride of [1, 2]) {
      for (const pad of paddings) {
        const xShape = [2, 9, 8, 3];
        const filterShape = [k, k, 3, 4];
        const outShape = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number],
          filterShape as [number, number, number, number], stride, 1, pad).outShape;
        const label = `k=${k} s=${stride} ${pad}`;
        const x = { shape: xShape, values: random(count(xShape), seed++) };
        const dy = { shape: outShape, values: random(count(outShape), seed++) };
        const filter = { shape: filterShape, values: random(count(filterShape), seed++) };
        compare(`filter grad ${label}`, 'Conv2DBackpropFilter', { x, dy },
          { strides: stride, pad, dataFormat: 'NHWC', filterShape });
        compare(`input grad ${label}`, 'Conv2DBackpropInput', { dy, filter },
          { strides: stride, pad, dataFormat: 'NHWC', inputShape: xShape });
      }
    }
  }
});

test('Conv2D gradients with explicit padding and rectangular kernels match cpu', () => {
  const xShape = [1, 7, 10, 2];
  const filterShape = [3, 5, 2, 3];
  const pad: tf.backend_util.ExplicitPadding = [[0, 0], [2, 1], [0, 3], [0, 0]];
  const outShape = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number],
    filterShape as [number, number, number, number], [2, 1], 1, pad).outShape;
  const x = { shape: xShape, values: random(count(xShape), 77) };
  const dy = { shape: outShape, values: random(count(outShape), 78) };
  const filter = { shape: filterShape, values: random(count(filterShape), 79) };
  compare('explicit filter grad', 'Conv2DBackpropFilter', { x, dy }, { strides: [2, 1], pad, dataFormat: 'NHWC', filterShape });
  compare('explicit input grad', 'Conv2DBackpropInput', { dy, filter }, { strides: [2, 1], pad, dataFormat: 'NHWC', inputShape: xShape });
});

test('Conv2DBackpropFilter split into chunks of images matches cpu', () => {
  const saved = filterGradLimits.maxColsFloats;
  filterGradLimits.maxColsFloats = 500; // one image (12 pixels × 36 taps·channels) per chunk
  try {
    const xShape = [3, 6, 7, 4];
    const filterShape = [3, 3, 4, 5];
    const outShape = [3, 3, 4, 5];
    const x = { shape: xShape, values: random(count(xShape), 90) };
    const dy = { shape: outShape, values: random(count(outShape), 91) };
    compare('chunked filter grad', 'Conv2DBackpropFilter', { x, dy }, { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape });
  } finally {
    filterGradLimits.maxColsFloats = saved;
  }
});

test('depthwise gradients match cpu (k 1–7, stride 1–2, same/valid, multiplier 1–2)', () => {
  let seed = 1000;
  for (let k = 1; k <= 7; k++) {
    for (const stride of [1, 2]) {
      for (const pad of paddings) {
        for (const multiplier of [1, 2]) {
          // tfjs only asks for depthwise gradients without dilation (its gradient asserts it).
          const dilation = 1;
          const xShape = [2, 9, 8, 3];
          const filterShape = [k, k, 3, multiplier];
          const outShape = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number],
            filterShape as [number, number, number, number], stride, dilation, pad, undefined, true).outShape;
          const label = `k=${k} s=${stride} ${pad} m=${multiplier} d=${dilation}`;
          const x = { shape: xShape, values: random(count(xShape), seed++) };
          const dy = { shape: outShape, values: random(count(outShape), seed++) };
          const filter = { shape: filterShape, values: random(count(filterShape), seed++) };
          const attrs = { strides: stride, pad, dilations: dilation };
          compare(`dw filter grad ${label}`, 'DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape });
          compare(`dw input grad ${label}`, 'DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...attrs, inputShape: xShape });
        }
      }
    }
  }
});

test('UnsortedSegmentSum matches cpu, ignoring out-of-range ids', () => {
  const x = { shape: [6, 2, 3], values: random(36, 5) };
  const segmentIds = { shape: [6], values: Int32Array.from([0, 2, 2, -1, 4, 0]), dtype: 'int32' as const };
  compare('segment sum', 'UnsortedSegmentSum', { x, segmentIds }, { numSegments: 4 });
});

test('Tile matches cpu for ranks 1–4', () => {
  const cases: Array<[number[], number[]]> = [[[5], [3]], [[2, 3], [2, 1]], [[2, 1, 3], [1, 4, 2]], [[1, 2, 2, 3], [3, 2, 1, 2]], [[1, 1, 1, 40], [2, 3, 2, 1]], [[], []]];
  let seed = 9;
  for (const [shape, reps] of cases) {
    compare(`tile ${shape} × ${reps}`, 'Tile', { x: { shape, values: random(count(shape), seed++) } }, { reps });
  }
});

test('Sum and Mean match cpu over leading, inner and mixed axes', () => {
  const shape = [3, 4, 5, 6];
  const x = { shape, values: random(count(shape), 41) };
  for (const axis of [[0], [0, 1, 2], [2, 1, 0], [3], [1, 3], [0, 2], -1, [0, 1, 2, 3]]) {
    for (const keepDims of [false, true]) {
      compare(`sum ${axis} keepDims=${keepDims}`, 'Sum', { x }, { axis, keepDims });
      compare(`mean ${axis} keepDims=${keepDims}`, 'Mean', { x }, { axis, keepDims });
    }
  }
});

test('MaxPoolGrad matches cpu (pool 2–3, stride 1–2, same/valid)', () => {
  let seed = 500;
  for (const filterSize of [2, 3]) {
    for (const stride of [1, 2]) {
      for (const pad of paddings) {
        const shape = [2, 7, 6, 5];
        const outShape = tf.backend_util.computePool2DInfo(shape as [number, number, number, number], filterSize, stride, 1, pad).outShape;
        const input = { shape, values: random(count(shape), seed++) };
        const dy = { shape: outShape, values: random(count(outShape), seed++) };
        compare(`max pool grad f=${filterSize} s=${stride} ${pad}`, 'MaxPoolGrad', { dy, input }, { filterSize, strides: stride, pad });
      }
    }
  }
});

test('FusedBatchNorm matches cpu with per-channel, scalar and missing statistics', () => {
  const shape = [2, 3, 4, 5];
  const x = { shape, values: random(count(shape), 61) };
  const channel = (seed: number, positive = false) => ({ shape: [5], values: random(5, seed).map((v) => (positive ? Math.abs(v) + 0.1 : v)) });
  compare('bn full', 'FusedBatchNorm', { x, mean: channel(62), variance: channel(63, true), offset: channel(64), scale: channel(65) }, { varianceEpsilon: 1e-3 });
  compare('bn no offset/scale', 'FusedBatchNorm', { x, mean: channel(66), variance: channel(67, true) }, { varianceEpsilon: 1e-3 });
  const x2 = { shape: [6, 5], values: random(30, 69) };
  compare('bn rank 2', 'FusedBatchNorm', { x: x2, mean: channel(70), variance: channel(71, true), offset: channel(72), scale: channel(73) }, { varianceEpsilon: 1e-3 });
  compare('bn scalar stats', 'FusedBatchNorm', { x, mean: { shape: [1], values: Float32Array.of(0.3) }, variance: { shape: [1], values: Float32Array.of(2) }, scale: channel(68) }, { varianceEpsilon: 1e-5 });
});

test('BatchMatMul and _FusedMatMul with transposed operands match cpu', () => {
  let seed = 300;
  for (const [transposeA, transposeB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    const aShape = transposeA ? [2, 7, 5] : [2, 5, 7];
    const bShape = transposeB ? [2, 3, 7] : [2, 7, 3];
    const a = { shape: aShape, values: random(count(aShape), seed++) };
    const b = { shape: bShape, values: random(count(bShape), seed++) };
    compare(`matmul tA=${transposeA} tB=${transposeB}`, 'BatchMatMul', { a, b }, { transposeA, transposeB });
    // The fused op always reaches the kernel with rank-3 operands.
    const a2 = { shape: [1, ...aShape.slice(1)], values: random(count(aShape.slice(1)), seed++) };
    const b2 = { shape: [1, ...bShape.slice(1)], values: random(count(bShape.slice(1)), seed++) };
    const bias = { shape: [3], values: random(3, seed++) };
    compare(`fused matmul tA=${transposeA} tB=${transposeB}`, '_FusedMatMul', { a: a2, b: b2, bias },
      { transposeA, transposeB, activation: 'relu' });
  }
});

test.run();
