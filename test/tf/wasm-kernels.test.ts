// Every leukopipe wasm kernel against the pure-JS cpu backend on random inputs: strides 1 and 2,
// same/valid/explicit padding, kernel sizes 1–7, depthwise multipliers 1–2.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../stages/tf/backend.js';
import { stockKernel } from '../../stages/tf/wasm-kernel-utils.js';
import { relativeError } from './relative-error.js';

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

function compare(label: string, kernel: string, inputs: Parameters<typeof runOn>[2], attrs: object): void {
  const expected = runOn('cpu', kernel, inputs, attrs);
  const actual = runOn('wasm', kernel, inputs, attrs);
  assert.equal(actual.shape, expected.shape, `${label}: shape`);
  const err = relativeError(actual.values, expected.values);
  assert.ok(err < 1e-5, `${label}: relative error ${err}`);
}

/** The bit patterns of float32 values (NaN payloads and the sign of zero included). */
const bitsOf = (v: Float32Array) => Array.from(new Uint32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));

/** The stock (captured, pre-leukopipe) wasm kernel's output on fresh tensors. */
function stockOn(kernel: string, inputs: Record<string, { shape: number[]; values: Float32Array }>, attrs: object): Float32Array {
  tf.setBackend('wasm');
  return tf.tidy(() => {
    const tensors = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.values, v.shape)]));
    const info = stockKernel(kernel)!({ inputs: tensors, backend: tf.backend(), attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
    return Float32Array.from(tf.engine().makeTensorFromTensorInfo(info).dataSync());
  });
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

test('Conv2DBackpropFilter SIMD tiles: channel counts off the 4 × 8 tile, row blocks, wide rows', () => {
  let seed = 90;
  // [batch, h, w, in] → out: remainders of in (4-row tiles) and out (8-lane tiles); narrow images
  // take several output rows per block, a 70-pixel row takes one.
  const cases: Array<[number[], number, number, number]> = [
    [[3, 6, 7, 1], 1, 3, 1], [[2, 5, 5, 5], 9, 3, 2], [[2, 6, 4, 7], 17, 3, 1], [[1, 4, 70, 4], 8, 3, 1],
    [[2, 9, 9, 12], 16, 1, 1], [[1, 13, 11, 3], 24, 5, 2],
    // Two or three channels left over (the 3 × 8 / 2 × 8 tile), with and without leftover outputs.
    [[2, 7, 6, 6], 10, 3, 1], [[1, 5, 5, 3], 13, 3, 1], [[2, 8, 8, 3], 32, 3, 1],
  ];
  for (const [xShape, out, k, stride] of cases) {
    const filterShape = [k, k, xShape[3]!, out];
    for (const pad of paddings) {
      const outShape = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number],
        filterShape as [number, number, number, number], stride, 1, pad).outShape;
      const x = { shape: xShape, values: random(count(xShape), seed++) };
      const dy = { shape: outShape, values: random(count(outShape), seed++) };
      compare(`filter grad ${xShape}→${out} k=${k} s=${stride} ${pad}`, 'Conv2DBackpropFilter', { x, dy },
        { strides: stride, pad, dataFormat: 'NHWC', filterShape });
    }
  }
});

test('depthwise filter gradient SIMD paths (channels 1–13, 8/4-lane and scalar) match cpu', () => {
  let seed = 2000;
  for (const c of [1, 4, 5, 8, 12, 13]) {
    for (const stride of [1, 2]) {
      const xShape = [2, 11, 10, c];
      const filterShape = [3, 3, c, 1];
      const outShape = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number],
        filterShape as [number, number, number, number], stride, 1, 'same', undefined, true).outShape;
      const x = { shape: xShape, values: random(count(xShape), seed++) };
      const dy = { shape: outShape, values: random(count(outShape), seed++) };
      compare(`dw filter grad c=${c} s=${stride}`, 'DepthwiseConv2dNativeBackpropFilter', { x, dy },
        { strides: stride, pad: 'same', dilations: 1, filterShape });
    }
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

test('Sum and Mean over leading axes of many rows (blocks of 64, odd widths) match cpu', () => {
  for (const shape of [[300, 7], [5, 33, 3], [2, 70, 1], [129, 16]]) {
    const x = { shape, values: random(count(shape), shape[0]!) };
    const axis = shape.length === 3 ? [0, 1] : [0];
    compare(`sum ${shape}`, 'Sum', { x }, { axis, keepDims: false });
    compare(`mean ${shape}`, 'Mean', { x }, { axis, keepDims: true });
  }
});

test('broadcast Add/Sub/Multiply/RealDiv (scalar, trailing vector, either side) match cpu exactly', () => {
  let seed = 700;
  const cases: Array<[number[], number[]]> = [
    [[2, 3, 4, 8], []], [[2, 3, 4, 8], [8]], [[2, 3, 4, 8], [1, 1, 1, 8]], [[2, 3, 4, 5], [4, 5]],
    [[3, 7], [1]], [[2, 5, 3], [1, 1, 3]], [[2, 3, 4], [2, 1, 4]], [[4, 4], [4, 4]],
  ];
  for (const [big, small] of cases) {
    for (const kernel of ['Add', 'Sub', 'Multiply', 'RealDiv']) {
      const a = { shape: big, values: random(count(big), seed++) };
      const b = { shape: small, values: random(count(small), seed++).map((v) => v + (v >= 0 ? 0.5 : -0.5)) };
      for (const [x, y, order] of [[a, b, 'big∘small'], [b, a, 'small∘big']] as const) {
        const expected = runOn('cpu', kernel, { a: x, b: y }, {});
        const actual = runOn('wasm', kernel, { a: x, b: y }, {});
        assert.equal(actual.shape, expected.shape, `${kernel} ${big} ${small} ${order}: shape`);
        assert.equal(Array.from(actual.values), Array.from(expected.values), `${kernel} ${big} ${small} ${order}`);
      }
    }
  }
});

test('comparisons, LogicalAnd and Select (the ReLU6 gradient ops) match cpu exactly', () => {
  const shape = [2, 5, 5, 7];
  const n = count(shape);
  const x = { shape, values: random(n, 801).map((v, i) => (i % 9 === 0 ? 0 : v * 8)) };
  const y = { shape, values: random(n, 802).map((v) => v * 8) };
  const results = new Map<string, { cpu: number[]; wasm: number[] }>();
  for (const backend of ['cpu', 'wasm']) {
    tf.setBackend(backend);
    tf.tidy(() => {
      const tx = tf.tensor(x.values, shape);
      const ty = tf.tensor(y.values, shape);
      const record = (label: string, t: tf.Tensor) => {
        const e = results.get(label) ?? { cpu: [], wasm: [] };
        e[backend as 'cpu' | 'wasm'] = Array.from(t.dataSync());
        results.set(label, e);
        assert.is(t.dtype, label.startsWith('select') ? t.dtype : 'bool', label);
      };
      const ge = tf.greaterEqual(tx, 0);
      const le = tf.lessEqual(tx, tf.scalar(6));
      record('ge', ge);
      record('le', le);
      record('gt', tf.greater(tx, ty));
      record('lt', tf.less(tx, 0.5));
      record('and', tf.logicalAnd(ge, le));
      record('select f32', tf.where(tf.logicalAnd(ge, le), ty, tx));
      record('select i32', tf.where(ge, tx.toInt(), ty.toInt()));
      record('and broadcast', tf.logicalAnd(ge, tf.tensor([true, false, true, true, false, true, true], [7], 'bool')));
    });
  }
  for (const [label, { cpu, wasm }] of results) assert.equal(wasm, cpu, label);
});

test('MaxPoolGrad matches cpu (pool 2–3, stride 1–2, same/valid, 5 and 9 channels, ties)', () => {
  let seed = 500;
  for (const filterSize of [2, 3]) {
    for (const stride of [1, 2]) {
      for (const pad of paddings) {
        const shape = [2, 7, 6, 5];
        const outShape = tf.backend_util.computePool2DInfo(shape as [number, number, number, number], filterSize, stride, 1, pad).outShape;
        const input = { shape, values: random(count(shape), seed++) };
        const dy = { shape: outShape, values: random(count(outShape), seed++) };
        compare(`max pool grad f=${filterSize} s=${stride} ${pad}`, 'MaxPoolGrad', { dy, input }, { filterSize, strides: stride, pad });
        const wide = [2, 7, 6, 9];
        const wideOut = [...outShape.slice(0, 3), 9];
        // Ties (repeated values) check that the first maximum of a window gets the gradient.
        const tied = { shape: wide, values: random(count(wide), seed++).map((v) => Math.round(v * 2) / 2) };
        compare(`max pool grad 9 ch f=${filterSize} s=${stride} ${pad}`, 'MaxPoolGrad',
          { dy: { shape: wideOut, values: random(count(wideOut), seed++) }, input: tied }, { filterSize, strides: stride, pad });
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

test('matrix products of a Dense layer in training (right operand large and new: plain products computed as (op(B)ᵀ·op(A)ᵀ)ᵀ) match cpu', () => {
  let seed = 400;
  const m = 4, k = 40, n = 60;
  // Forward x·W, the kernel gradient's partner dy·Wᵀ, rank 2 and rank 3 with one matrix.
  for (const lead of [[], [1]]) {
    const x = { shape: [...lead, m, k], values: random(m * k, seed++) };
    const w = { shape: [...lead, k, n], values: random(k * n, seed++) };
    const dy = { shape: [...lead, m, n], values: random(m * n, seed++) };
    compare(`x·W rank ${lead.length + 2}`, 'BatchMatMul', { a: x, b: w }, { transposeA: false, transposeB: false });
    compare(`dy·Wᵀ rank ${lead.length + 2}`, 'BatchMatMul', { a: dy, b: w }, { transposeA: false, transposeB: true });
    compare(`xᵀ·dy rank ${lead.length + 2}`, 'BatchMatMul', { a: x, b: dy }, { transposeA: true, transposeB: false });
    const bias = { shape: [n], values: random(n, seed++) };
    // The fused op always reaches the kernel with rank-3 operands (and stock wasm takes no others).
    if (lead.length === 0) continue;
    for (const activation of ['relu', 'linear']) {
      compare(`fused x·W + bias, ${activation}, rank ${lead.length + 2}`, '_FusedMatMul', { a: x, b: w, bias }, { transposeA: false, transposeB: false, activation });
    }
  }
});

test('the unpacked matrix product (new right operands, 1–1024 rows) gives XNNPACK\'s bits, transposed operands and odd sizes too', () => {
  let seed = 500;
  // Head training's shapes (batch 32, 480 → 256 → 4), tails of the 4-row and 8/4-column blocks, one row.
  const shapes: [number, number, number][] = [[32, 480, 256], [480, 32, 256], [32, 256, 4], [7, 33, 13], [1, 5, 3], [5, 1, 9], [13, 17, 11]];
  for (const [m, k, n] of shapes) {
    for (const [transposeA, transposeB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const aShape = transposeA ? [k, m] : [m, k];
      const bShape = transposeB ? [n, k] : [k, n];
      const av = random(count(aShape), seed++);
      av[0] = -0; av[1 % av.length] = 1e-38; // signed zero and a subnormal product
      const a = { shape: aShape, values: av };
      const b = { shape: bShape, values: random(count(bShape), seed++) };
      tf.setBackend('wasm');
      const stock = stockKernel('BatchMatMul')!;
      const expected = tf.tidy(() => {
        const backend = tf.backend();
        // What leukopipe ran before: the operands transposed (exact), then XNNPACK's untransposed product
        // (stock wasm's own transposed path is a slow loop with other sums).
        const ta = tf.tensor(a.values, a.shape), tb = tf.tensor(b.values, b.shape);
        const inputs = { a: transposeA ? tf.transpose(ta) : ta, b: transposeB ? tf.transpose(tb) : tb };
        const info = stock({ inputs, backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
        return Float32Array.from(tf.engine().makeTensorFromTensorInfo(info).dataSync());
      });
      const actual = runOn('wasm', 'BatchMatMul', { a, b }, { transposeA, transposeB });
      assert.equal(actual.shape, [m, n]);
      const x = bitsOf(actual.values), y = bitsOf(expected);
      const differing = x.filter((v, i) => v !== y[i]).length;
      assert.is(differing, 0, `${m}×${k}×${n} tA=${transposeA} tB=${transposeB}: ${differing} values differ from the stock kernel`);
    }
  }
});

test('pointwise (1×1, stride 1) Conv2D, FusedConv2D and Conv2DBackpropInput — bias, relu, relu6, odd sizes, NaN — give the stock XNNPACK kernel\'s bits', () => {
  let seed = 600;
  for (const [xShape, co] of [[[2, 5, 7, 13], 9], [[3, 8, 8, 32], 64], [[1, 1, 1, 3], 1], [[2, 3, 3, 40], 20]] as [number[], number][]) {
    const xv = random(count(xShape), seed++);
    // -0, and for the larger inputs a NaN and an infinity: relu keeps NaN, relu6 makes it 0, as stock does.
    xv[0] = -0;
    if (xv.length > 8) [xv[5], xv[7]] = [NaN, -Infinity];
    const x = { shape: xShape, values: xv };
    const filter = { shape: [1, 1, xShape[3]!, co], values: random(xShape[3]! * co, seed++) };
    const bias = { shape: [co], values: random(co, seed++) };
    for (const pad of ['same', 'valid'] as const) {
      const attrs = { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] };
      assert.equal(bitsOf(runOn('wasm', 'Conv2D', { x, filter }, attrs).values), bitsOf(stockOn('Conv2D', { x, filter }, attrs)), `Conv2D [${xShape}] → ${co}, ${pad}`);
      // The input gradient of the same convolution: dy·Wᵀ, as the transposed filter through XNNPACK gave it.
      const dy = { shape: [...xShape.slice(0, 3), co], values: random(count(xShape.slice(0, 3)) * co, seed++) };
      const flipped = { shape: [1, 1, co, xShape[3]!], values: Float32Array.from({ length: co * xShape[3]! }, (_, k) => filter.values[(k % xShape[3]!) * co + Math.floor(k / xShape[3]!)]!) };
      assert.equal(bitsOf(runOn('wasm', 'Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: xShape }).values), bitsOf(stockOn('Conv2D', { x: dy, filter: flipped }, attrs)),
        `Conv2DBackpropInput [${xShape}] ← ${co}, ${pad}`);
      for (const activation of ['linear', 'relu', 'relu6']) {
        const fused = { ...attrs, activation };
        assert.equal(bitsOf(runOn('wasm', 'FusedConv2D', { x, filter, bias }, fused).values), bitsOf(stockOn('FusedConv2D', { x, filter, bias }, fused)),
          `FusedConv2D [${xShape}] → ${co}, ${pad}, ${activation}`);
        assert.equal(bitsOf(runOn('wasm', 'FusedConv2D', { x, filter }, fused).values), bitsOf(stockOn('FusedConv2D', { x, filter }, fused)),
          `FusedConv2D without bias [${xShape}] → ${co}, ${pad}, ${activation}`);
      }
    }
  }
});

test('convolutions as gathered matrix products (3×3–7×7, 1×1 stride 2, stride 1–2, same/valid, k over 256, odd sizes) give the stock kernel\'s bits', () => {
  let seed = 700;
  // [x shape, kernel, Cout, stride]: 7×7/2; k = 3·3·64 = 576 × 128 outputs (B too large to take whole: three
  // blocks of k); 200 output pixels (two blocks of rows); 3 channels (stock).
  const cases: [number[], number, number, number][] = [[[2, 9, 11, 9], 7, 8, 2], [[1, 6, 7, 64], 3, 128, 1], [[2, 10, 10, 11], 3, 8, 2],
    [[1, 7, 9, 13], 5, 24, 1], [[2, 8, 8, 16], 1, 32, 2], [[1, 20, 20, 8], 3, 8, 1], [[2, 9, 11, 3], 7, 8, 2]];
  for (const [xShape, size, co, stride] of cases) {
    const xv = random(count(xShape), seed++);
    xv[0] = -0;
    const x = { shape: xShape, values: xv };
    const filter = { shape: [size, size, xShape[3]!, co], values: random(size * size * xShape[3]! * co, seed++) };
    const bias = { shape: [co], values: random(co, seed++) };
    // Explicit, uneven padding: what Conv2DBackpropInput hands the forward convolution.
    const explicit = [[0, 0], [size - 1, 1], [0, size - 1], [0, 0]];
    for (const pad of ['same', 'valid', explicit] as const) {
      const attrs = { strides: [stride, stride], pad, dataFormat: 'NHWC', dilations: [1, 1] };
      const label = `[${xShape}] ${size}×${size}/${stride} → ${co}, ${JSON.stringify(pad)}`;
      assert.equal(bitsOf(runOn('wasm', 'Conv2D', { x, filter }, attrs).values), bitsOf(stockOn('Conv2D', { x, filter }, attrs)), `Conv2D ${label}`);
      for (const activation of ['linear', 'relu', 'relu6']) {
        const fused = { ...attrs, activation };
        assert.equal(bitsOf(runOn('wasm', 'FusedConv2D', { x, filter, bias }, fused).values), bitsOf(stockOn('FusedConv2D', { x, filter, bias }, fused)), `FusedConv2D ${label}, ${activation}`);
      }
    }
  }
});

test.run();
