// The forward convolutions of the study's networks, stock XNNPACK against leukopipe's matrix-product
// kernels (stages/tf/kernels/conv-as-gemm.ts: the same bits), one process, interleaved:
//   node --import tsx bench/conv-kernels.ts
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../stages/tf/backend.js';
import { stockKernel } from '../stages/tf/wasm-kernel-utils.js';

await initBackend({ prefer: 'wasm', quiet: true });
const stock = stockKernel('FusedConv2D')!;
// [label, x shape, filter shape, stride]
const cases: [string, number[], number[], number][] = [
  ['ResNet50 stem 7×7/2', [8, 230, 230, 3], [7, 7, 3, 64], 2],
  ['ResNet50 3×3, 56²', [8, 56, 56, 64], [3, 3, 64, 64], 1],
  ['ResNet50 3×3, 28²', [8, 28, 28, 128], [3, 3, 128, 128], 1],
  ['ResNet50 3×3, 14²', [8, 14, 14, 256], [3, 3, 256, 256], 1],
  ['ResNet50 3×3, 7²', [8, 7, 7, 512], [3, 3, 512, 512], 1],
  ['ResNet50 1×1, 56² 64→256', [8, 56, 56, 64], [1, 1, 64, 256], 1],
  ['ResNet50 1×1/2 shortcut 256→512', [8, 56, 56, 256], [1, 1, 256, 512], 2],
  ['ResNet50 1×1, 7² 2048→512', [8, 7, 7, 2048], [1, 1, 2048, 512], 1],
  ['MobileNet α=0.25 pointwise, 32² 32→64', [16, 32, 32, 32], [1, 1, 32, 64], 1],
  ['small CNN 3×3, 64² 3→32', [16, 64, 64, 3], [3, 3, 3, 32], 1],
  ['small CNN 3×3, 32² 32→64', [16, 32, 32, 32], [3, 3, 32, 64], 1],
];
const seconds = (run: () => tf.TensorInfo) => {
  const backend = tf.backend() as unknown as { disposeData(id: object): void };
  for (let i = 0; i < 2; i++) backend.disposeData(run().dataId);
  const t0 = performance.now();
  let reps = 0;
  while (performance.now() - t0 < 1200) { backend.disposeData(run().dataId); reps++; }
  return (performance.now() - t0) / 1000 / reps;
};
console.log('| convolution | stock ms | leukopipe ms | stock GFLOP/s | leukopipe GFLOP/s |\n|---|--:|--:|--:|--:|');
for (const [label, xs, fs, s] of cases) {
  const x = tf.randomUniform(xs, -1, 1, 'float32', 1);
  const filter = tf.randomUniform(fs, -1, 1, 'float32', 2);
  const bias = tf.randomUniform([fs[3]!], -1, 1, 'float32', 3);
  const attrs = { strides: [s, s], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'linear' };
  const ours = () => tf.engine().runKernel('FusedConv2D', { x, filter, bias }, attrs as never) as unknown as tf.TensorInfo;
  const theirs = () => stock({ inputs: { x, filter, bias }, backend: tf.backend(), attrs: attrs as never }) as tf.TensorInfo;
  const [oh, ow] = [Math.ceil(xs[1]! / s), Math.ceil(xs[2]! / s)];
  const flops = 2 * xs[0]! * oh * ow * fs[0]! * fs[1]! * fs[2]! * fs[3]!;
  const a = seconds(theirs), b = seconds(ours);
  console.log(`| ${label} | ${(a * 1000).toFixed(1)} | ${(b * 1000).toFixed(1)} | ${(flops / a / 1e9).toFixed(1)} | ${(flops / b / 1e9).toFixed(1)} |`);
  tf.dispose([x, filter, bias]);
}
