// Kernel-level A/B on the wasm backend: each leukopipe kernel against the stock kernel it replaces
// (or, for kernels stock lacks, against the op it is built from), on shapes from a small-CNN /
// MobileNet / ResNet50 step, interleaved in one process so both see the same machine load.
//   node --import tsx bench/backend-kernels.ts
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../stages/tf/wasm-backend.js';
import { stockKernel, type BackendWasm } from '../stages/tf/wasm-kernel-utils.js';

await initWasmBackend();
const backend = tf.backend() as unknown as BackendWasm;

interface Case { kernel: string; label: string; inputs: Record<string, tf.Tensor>; attrs: object; flops: number }

function time(run: () => tf.TensorInfo): number {
  const t0 = performance.now();
  const out = run();
  backend.readSync(out.dataId, 0, 1);
  const ms = performance.now() - t0;
  backend.disposeData(out.dataId);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const r = (shape: number[]) => tf.randomNormal(shape);
const cases: Case[] = [
  { kernel: 'Conv2DBackpropInput', label: 'dx 3×3 s1 [16,32,32,32]→64', inputs: { dy: r([16, 32, 32, 64]), filter: r([3, 3, 32, 64]) },
    attrs: { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: [16, 32, 32, 32] }, flops: 2 * 16 * 32 * 32 * 9 * 32 * 64 },
  { kernel: 'Conv2DBackpropInput', label: 'dx 3×3 s2 [8,56,56,64]→64', inputs: { dy: r([8, 28, 28, 64]), filter: r([3, 3, 64, 64]) },
    attrs: { strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: [8, 56, 56, 64] }, flops: 2 * 8 * 28 * 28 * 9 * 64 * 64 },
  { kernel: 'BatchMatMul', label: 'dense dW xᵀ·dy [256,1024]ᵀ[256,128]', inputs: { a: r([1, 256, 1024]), b: r([1, 256, 128]) },
    attrs: { transposeA: true, transposeB: false }, flops: 2 * 256 * 1024 * 128 },
  { kernel: 'BatchMatMul', label: 'dense dx dy·Wᵀ [256,128][1024,128]ᵀ', inputs: { a: r([1, 256, 128]), b: r([1, 1024, 128]) },
    attrs: { transposeA: false, transposeB: true }, flops: 2 * 256 * 1024 * 128 },
  { kernel: 'Sum', label: 'BN/bias grad sum [16,32,32,32] axes 0-2', inputs: { x: r([16, 32, 32, 32]) }, attrs: { axis: [0, 1, 2], keepDims: false }, flops: 0 },
  { kernel: 'Mean', label: 'BN moments mean [16,64,64,16] axes 0-2', inputs: { x: r([16, 64, 64, 16]) }, attrs: { axis: [0, 1, 2], keepDims: false }, flops: 0 },
  { kernel: 'MaxPoolGrad', label: 'maxpool 2×2 grad [16,64,64,32]', inputs: { dy: r([16, 32, 32, 32]), input: r([16, 64, 64, 32]), output: r([16, 32, 32, 32]) },
    attrs: { filterSize: 2, strides: 2, pad: 'valid' }, flops: 0 },
  { kernel: 'FusedBatchNorm', label: 'BN inference [8,56,56,256]', inputs: { x: r([8, 56, 56, 256]), mean: r([256]), variance: tf.randomUniform([256], 0.5, 2), offset: r([256]), scale: r([256]) },
    attrs: { varianceEpsilon: 1e-3 }, flops: 0 },
  { kernel: 'Tile', label: 'tile [1,1,1,32]→[16,64,64,32]', inputs: { x: r([1, 1, 1, 32]) }, attrs: { reps: [16, 64, 64, 1] }, flops: 0 },
  { kernel: 'Identity', label: 'identity [16,32,32,32]', inputs: { x: r([16, 32, 32, 32]) }, attrs: {}, flops: 0 },
];
// Missing in stock: reported alone, against the forward op of the same size.
const missing: Case[] = [
  { kernel: 'Conv2DBackpropFilter', label: 'dW 3×3 [16,32,32,32]→64', inputs: { x: r([16, 32, 32, 32]), dy: r([16, 32, 32, 64]) },
    attrs: { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 32, 64] }, flops: 2 * 16 * 32 * 32 * 9 * 32 * 64 },
  { kernel: 'Conv2D', label: '(forward of the same conv)', inputs: { x: r([16, 32, 32, 32]), filter: r([3, 3, 32, 64]) },
    attrs: { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 }, flops: 2 * 16 * 32 * 32 * 9 * 32 * 64 },
  { kernel: 'DepthwiseConv2dNativeBackpropFilter', label: 'dw dW 3×3 [16,64,64,32]', inputs: { x: r([16, 64, 64, 32]), dy: r([16, 64, 64, 32]) },
    attrs: { strides: 1, pad: 'same', dilations: 1, filterShape: [3, 3, 32, 1] }, flops: 2 * 16 * 64 * 64 * 9 * 32 },
  { kernel: 'DepthwiseConv2dNativeBackpropInput', label: 'dw dx 3×3 [16,64,64,32]', inputs: { dy: r([16, 64, 64, 32]), filter: r([3, 3, 32, 1]) },
    attrs: { strides: 1, pad: 'same', dilations: 1, inputShape: [16, 64, 64, 32] }, flops: 2 * 16 * 64 * 64 * 9 * 32 },
  { kernel: 'DepthwiseConv2dNative', label: '(forward of the same depthwise conv)', inputs: { x: r([16, 64, 64, 32]), filter: r([3, 3, 32, 1]) },
    attrs: { strides: 1, pad: 'same', dilations: 1 }, flops: 2 * 16 * 64 * 64 * 9 * 32 },
];

const ours = (c: Case) => () => tf.getKernel(c.kernel, 'wasm')!.kernelFunc({ inputs: c.inputs, backend, attrs: c.attrs as tf.NamedAttrMap }) as tf.TensorInfo;
const theirs = (c: Case) => () => stockKernel(c.kernel)!({ inputs: c.inputs, backend, attrs: c.attrs as tf.NamedAttrMap }) as tf.TensorInfo;
const gflops = (c: Case, ms: number) => (c.flops ? ` ${(c.flops / ms / 1e6).toFixed(1)} GFLOP/s` : '');

console.log('| kernel | case | stock ms | ours ms | speed-up |');
console.log('|---|---|---|---|---|');
for (const c of cases) {
  const a: number[] = [];
  const b: number[] = [];
  time(theirs(c)); time(ours(c));
  for (let i = 0; i < 5; i++) { a.push(time(theirs(c))); b.push(time(ours(c))); }
  const sa = median(a);
  const sb = median(b);
  console.log(`| ${c.kernel} | ${c.label} | ${sa.toFixed(1)}${gflops(c, sa)} | ${sb.toFixed(1)}${gflops(c, sb)} | ${(sa / sb).toFixed(1)}× |`);
}
console.log('\n| kernel (missing in stock) | case | ours ms |');
console.log('|---|---|---|');
for (const c of missing) {
  time(ours(c));
  const b: number[] = [];
  for (let i = 0; i < 5; i++) b.push(time(ours(c)));
  console.log(`| ${c.kernel} | ${c.label} | ${median(b).toFixed(1)}${gflops(c, median(b))} |`);
}
