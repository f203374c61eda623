// What one transfer-feature vector costs per architecture and input size: the pooled base the features
// stage runs (4-level pyramid, batch 16), timed as the process's own CPU time per image, which a loaded
// machine disturbs far less than wall time (one wasm thread: on an idle machine wall ≈ CPU).
//
//   node --import tsx bench/backbone-feature-cost.ts                      # ResNet50 and MobileNet α=0.25/0.75
//   node --import tsx bench/backbone-feature-cost.ts resnet50:96,128,224
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../stages/tf/backend.js';
import { getArchitecture } from '../stages/models/registry.js';
import { pooledPyramid, pyramidTapLayers } from '../stages/lib/classifier/feature-pyramid.js';

const BATCH = 16;
const cases = (process.argv.slice(2).length ? process.argv.slice(2) : ['resnet50:96,128,224', 'mobilenet_v1_0.75:128,224', 'mobilenet_v1_0.25:128'])
  .flatMap((arg) => {
    const [arch, sizes] = arg.split(':') as [string, string];
    return sizes.split(',').map((s) => ({ arch, size: Number(s) }));
  });

await initBackend({ prefer: 'wasm', quiet: true });
console.log('| architecture | input | vector | CPU ms/image | images/s per process (CPU) |');
console.log('|---|--:|--:|--:|--:|');
for (const { arch, size } of cases) {
  const spec = await getArchitecture(arch);
  const raw = spec.build([size, size, 3], { includeTop: false, initialWeights: 'zeros' });
  const model = pooledPyramid(raw, pyramidTapLayers(raw, 4));
  const x = tf.randomUniform([BATCH, size, size, 3], -1, 1, 'float32', 1);
  (model.predict(x) as tf.Tensor).dataSync(); // warm-up: kernels and memory
  const before = process.cpuUsage();
  const out = model.predict(x) as tf.Tensor;
  out.dataSync();
  const used = process.cpuUsage(before);
  const ms = (used.user + used.system) / 1000 / BATCH;
  console.log(`| ${arch} | ${size}² | ${out.shape[1]} | ${ms.toFixed(0)} | ${(1000 / ms).toFixed(1)} |`);
  tf.dispose([x, out]);
  model.dispose();
}
