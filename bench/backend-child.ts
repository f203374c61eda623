// One benchmark measurement in a fresh process (kernel registrations are per process):
//   backend-child.ts train|infer|profile|profile-infer <stock|ours|cpu> <arch> <size> <batch> <seconds>
// arch `feature_head` is the study's head on cached features (graph-surgery.ts) with `size` inputs, trained
// with Adam as train and cross-lab train it (createOptimizer: the fused update where the kernels have it);
// variant `native` fits it as train and cross-lab do now (fit-head.ts → native-head-fit.ts), an epoch of 64
// batches per call, checkpoint included; its GFLOP/s counts the tfjs step's work, so img/s compare.
// Prints `RESULT {json}` lines; `profile*` also prints the time per kernel of training / inference steps.
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../stages/tf/wasm-backend.js';
import { getArchitecture } from '../stages/models/registry.js';
import { countFlops } from './backend-flops.js';
import { createHeadLayers, headModel } from '../stages/lib/classifier/graph-surgery.js';
import { createOptimizer } from '../stages/lib/classifier/optimizer.js';
import { fitHeadOnMatrix, fitsHeadNatively } from '../stages/lib/classifier/fit-head.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [kind = 'train', variant = 'ours', arch = 'small_cnn', sizeArg = '64', batchArg = '16', secondsArg = '5'] = process.argv.slice(2);
const size = Number(sizeArg);
const batch = Number(batchArg);
const budget = Number(secondsArg) * 1000;

if (variant === 'cpu') {
  await tf.setBackend('cpu');
} else {
  await initWasmBackend({ kernels: variant === 'stock' ? 'missing' : 'all' });
}

const head = arch === 'feature_head';
const model = head
  ? headModel(size, createHeadLayers(4, 1, { standardize: true }))
  : (await getArchitecture(arch)).build([size, size, 3], { includeTop: true, classes: 4, classifierActivation: 'softmax' });
const flops = countFlops(model);
const x = tf.randomUniform(head ? [batch, size] : [batch, size, size, 3], -1, 1);
const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 4), 'int32'), 4);

const kernelTimes = new Map<string, number>();
// PROFILE_BY_SHAPE=Multiply,Sum: those kernels timed per input shapes, to see which call sites cost.
const byShape = new Set((process.env.PROFILE_BY_SHAPE ?? '').split(',').filter(Boolean));
if (kind.startsWith('profile')) {
  for (const config of tf.getKernelsForBackend(tf.getBackend())) {
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel({ ...config, setupFunc: undefined, kernelFunc: (args) => {
      const t0 = performance.now();
      const out = inner(args);
      const key = byShape.has(config.kernelName) ? `${config.kernelName} ${Object.values(args.inputs).filter((t) => t != null).map((t) => `[${(t as tf.TensorInfo).shape.join(',')}]`).join(' ')}` : config.kernelName;
      kernelTimes.set(key, (kernelTimes.get(key) ?? 0) + performance.now() - t0);
      return out;
    } });
  }
}

let step: () => Promise<void>;
let stepsPerCall = 1;
if (variant === 'native') {
  if (!head || kind !== 'train') throw new Error('variant native: feature_head training only');
  stepsPerCall = 64;
  const rows = batch * stepsPerCall;
  const data = { x: tf.randomUniform([rows, size], -1, 1).dataSync() as Float32Array, labels: Array.from({ length: rows }, (_, i) => i % 4) };
  const { optimizer } = createOptimizer({ name: 'adam', learningRate: 0.001 }, 'bench');
  if (!fitsHeadNatively(model, optimizer)) throw new Error('the native head fit is not available here');
  step = async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'bench-head-'));
    await fitHeadOnMatrix({ model, optimizer, classes: 4, dim: size, train: data, val: null, batchSize: batch, epochs: 1, seed: 1, earlyStopping: null, stateDir });
    rmSync(stateDir, { recursive: true, force: true });
  };
} else if (kind === 'infer' || kind === 'profile-infer') {
  step = async () => { const p = model.predict(x) as tf.Tensor; await p.data(); p.dispose(); };
} else {
  model.compile({ optimizer: head ? createOptimizer({ name: 'adam', learningRate: 0.001 }, 'bench').optimizer : tf.train.sgd(0.01), loss: 'categoricalCrossentropy' });
  step = async () => { await model.trainOnBatch(x, y); };
}
// Warm-up (operator creation, weight packing); the pure-JS cpu backend has none and is too slow for it.
if (variant !== 'cpu') await step();
kernelTimes.clear();
let steps = 0;
const minSteps = variant === 'cpu' ? 1 : 2;
const t0 = performance.now();
while (performance.now() - t0 < budget || steps < minSteps) { await step(); steps += stepsPerCall; }
const elapsed = (performance.now() - t0) / 1000;
const work = kind.endsWith('infer') ? flops.forward : flops.training;
const result = { kind, variant, model: arch, size, batch, steps, seconds: elapsed, imgPerSec: (steps * batch) / elapsed, gflops: (steps * batch * work) / elapsed / 1e9 };
console.log('RESULT ' + JSON.stringify(result));
if (kind.startsWith('profile')) {
  const total = [...kernelTimes.values()].reduce((a, b) => a + b, 0);
  for (const [name, ms] of [...kernelTimes].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_ROWS ?? 15))) {
    console.log(`${name.padEnd(40)} ${(ms / steps).toFixed(1).padStart(8)} ms/step ${((100 * ms) / total).toFixed(1).padStart(5)}%`);
  }
}
