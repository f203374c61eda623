// Forward time per image of every architecture at its default input size, wasm backend, batch 1
// (and batch 4), the whole Keras model with its 1000-class head.
//   node --import tsx bench/models-forward.ts [arch …]      (default: the eight + mobilenet_v1_0.25 + small_cnn)
// Weights are a deterministic fan-in-scaled fill (speed does not depend on the values; random
// initialisation of VGG's 138 M values would take longer than the benchmark).
import * as tf from '@tensorflow/tfjs';
import { initBackend, formatBackendLine } from '../stages/tf/backend.js';
import { getArchitecture } from '../stages/models/registry.js';

const DEFAULT_ARCHS = [
  'mobilenet_v1_0.25',
  'small_cnn',
  'resnet50',
  'vgg16',
  'vgg19',
  'inception_v3',
  'xception',
  'densenet121',
  'densenet169',
  'densenet201',
];
const RUNS = 3;

/**
 * A uniform-looking value in [-1, 1) per index from a sine hash, computed on the backend one op at
 * a time (VGG's fc1 kernel has 103 M values: a tidy() chain of full-size temporaries would not fit
 * in wasm's 4 GiB memory).
 */
function hashedUniform(size: number, seed: number): tf.Tensor {
  let t: tf.Tensor = tf.range(0, size);
  const step = (op: (x: tf.Tensor) => tf.Tensor) => {
    const next = op(t);
    t.dispose();
    t = next;
  };
  step((x) => x.mul(12.9898));
  step((x) => x.add(78.233 * seed));
  step((x) => x.sin());
  step((x) => x.mul(43758.5453));
  const whole = t.floor();
  step((x) => x.sub(whole));
  whole.dispose();
  step((x) => x.mul(2));
  step((x) => x.sub(1));
  return t;
}

function fillKernels(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (layer.getClassName() === 'BatchNormalization' || layer.weights.length === 0) continue;
    layer.weights.forEach((w, i) => {
      const shape = w.shape as number[];
      const size = shape.reduce((a, b) => a * b, 1);
      const depthwise = shape.length === 4 && shape[3] === 1;
      const fanIn = depthwise ? shape[0]! * shape[1]! : shape.length > 1 ? size / shape[shape.length - 1]! : 1;
      const uniform = hashedUniform(size, i + 1);
      const scaled = uniform.mul(Math.sqrt(6 / fanIn));
      uniform.dispose();
      const value = scaled.reshape(shape);
      w.write(value);
      tf.dispose([scaled, value]);
    });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median wall and CPU (this process, user + system) milliseconds per image. */
async function timePerImage(model: tf.LayersModel, size: number, batch: number): Promise<{ wall: number; cpu: number }> {
  const x = tf.tidy(() => tf.sin(tf.range(0, batch * size * size * 3)).reshape([batch, size, size, 3]));
  const once = async () => {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const y = model.predict(x) as tf.Tensor;
    await y.data();
    y.dispose();
    const cpu = process.cpuUsage(cpuStart);
    return { wall: (performance.now() - start) / batch, cpu: (cpu.user + cpu.system) / 1000 / batch };
  };
  await once(); // warm-up: kernel set-up and allocation
  const runs: Array<{ wall: number; cpu: number }> = [];
  for (let i = 0; i < RUNS; i++) runs.push(await once());
  x.dispose();
  return { wall: median(runs.map((r) => r.wall)), cpu: median(runs.map((r) => r.cpu)) };
}

const info = await initBackend({ prefer: 'wasm', quiet: true });
console.log(formatBackendLine(info));
const archs = process.argv.slice(2).length ? process.argv.slice(2) : DEFAULT_ARCHS;
// CPU time is this process's own (wasm runs one thread), so it is less distorted by other load than wall time.
console.log(`| model | input | params | wall ms/image, batch 1 | CPU ms/image, batch 1 | wall ms/image, batch 4 | CPU ms/image, batch 4 |`);
console.log(`|---|---|---|---|---|---|---|`);
for (const arch of archs) {
  const spec = await getArchitecture(arch);
  const size = spec.defaultInputSize;
  const model = spec.build([size, size, 3], { initialWeights: 'zeros' });
  fillKernels(model);
  const b1 = await timePerImage(model, size, 1);
  const b4 = await timePerImage(model, size, 4);
  console.log(`| ${spec.kerasName}${spec.family === 'mobilenet' ? ` (${arch})` : ''} | ${size} | ${model.countParams().toLocaleString('en')} | ${b1.wall.toFixed(0)} | ${b1.cpu.toFixed(0)} | ${b4.wall.toFixed(0)} | ${b4.cpu.toFixed(0)} |`);
  model.dispose();
}
