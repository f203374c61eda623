// Backend choice: order, overrides and the recorded reason. tfjs-node-gpu cannot be installed on
// this machine, so its presence is simulated: the stand-in module registers a 'tensorflow'
// backend (a real tfjs cpu backend under that name), as the real package does on import.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { type BackendEnvironment, formatBackendLine, initBackend, backendInfo, selectBackend } from '../../stages/tf/backend.js';

function notInstalled(name: string): Error {
  return Object.assign(new Error(`Cannot find package '${name}' imported from backend.ts`), { code: 'ERR_MODULE_NOT_FOUND' });
}

function environment(opts: { installed: string[]; gpu: boolean; env?: Record<string, string> }): BackendEnvironment & { imported: string[] } {
  const imported: string[] = [];
  return {
    imported,
    env: opts.env ?? {},
    gpuVisible: () => opts.gpu,
    importOptional: async (name) => {
      imported.push(name);
      if (!opts.installed.includes(name)) throw notInstalled(name);
      if (tf.findBackend('tensorflow') === null) tf.registerBackend('tensorflow', () => new MathBackendCPU());
      return { version: { 'tfjs-node': '4.22.0' } };
    },
  };
}

test('auto without native packages picks wasm with SIMD and the training kernels, and says why', async () => {
  const env = environment({ installed: [], gpu: false });
  const info = await selectBackend({ environment: env });
  assert.is(info.name, 'wasm');
  assert.is(tf.getBackend(), 'wasm');
  assert.is(info.simd, true);
  assert.ok(info.trainingKernels.includes('Conv2DBackpropFilter'));
  assert.equal(env.imported, ['@tensorflow/tfjs-node'], 'tfjs-node-gpu is not even imported without a GPU');
  assert.match(info.reason, /no GPU visible/);
  assert.match(info.reason, /@tensorflow\/tfjs-node not installed/);
  assert.is(info.versions.tfjs, tf.version.tfjs);
  assert.is(info.versions.node, process.versions.node);
  assert.equal(JSON.parse(JSON.stringify(info)), info, 'serialisable into artifacts');
});

test('tfjs-node-gpu installed and a GPU visible: the tensorflow backend on the GPU', async () => {
  const env = environment({ installed: ['@tensorflow/tfjs-node-gpu'], gpu: true, env: { CUDA_VISIBLE_DEVICES: '1' } });
  const info = await selectBackend({ environment: env });
  assert.is(info.name, 'tensorflow');
  assert.is(tf.getBackend(), 'tensorflow');
  assert.is(info.package, '@tensorflow/tfjs-node-gpu');
  assert.is(info.gpu, true);
  assert.is(info.device, 'GPU (CUDA_VISIBLE_DEVICES=1)');
  assert.equal(env.imported, ['@tensorflow/tfjs-node-gpu']);
});

test('a GPU visible but tfjs-node-gpu absent falls through to wasm, naming the missing package', async () => {
  const env = environment({ installed: [], gpu: true });
  const info = await selectBackend({ environment: env });
  assert.is(info.name, 'wasm');
  assert.match(info.reason, /@tensorflow\/tfjs-node-gpu not installed/);
});

test('LEUKOPIPE_BACKEND and the prefer option override the order', async () => {
  const env = environment({ installed: ['@tensorflow/tfjs-node-gpu'], gpu: true, env: { LEUKOPIPE_BACKEND: 'cpu' } });
  const fromEnv = await selectBackend({ environment: env, quiet: true });
  assert.is(fromEnv.name, 'cpu');
  assert.match(fromEnv.reason, /^LEUKOPIPE_BACKEND=cpu/);
  assert.equal(env.imported, []);
  const fromOption = await selectBackend({ environment: env, prefer: 'wasm' });
  assert.is(fromOption.name, 'wasm', 'the option wins over the environment variable');
});

test('bad or unavailable requests fail with a message naming the setting', async () => {
  const env = environment({ installed: [], gpu: false, env: { LEUKOPIPE_BACKEND: 'cuda' } });
  try {
    await selectBackend({ environment: env });
    assert.unreachable('should reject');
  } catch (err) {
    assert.match((err as Error).message, /LEUKOPIPE_BACKEND: unknown backend "cuda"/);
  }
  try {
    await selectBackend({ environment: environment({ installed: [], gpu: false }), prefer: 'tensorflow' });
    assert.unreachable('should reject');
  } catch (err) {
    assert.match((err as Error).message, /backend "tensorflow" requested .* @tensorflow\/tfjs-node not installed/);
  }
});

test('initBackend runs once per process and records the info', async () => {
  const first = await initBackend({ prefer: 'wasm', quiet: true });
  const second = await initBackend({ prefer: 'cpu', quiet: true });
  assert.is(second, first);
  assert.is(backendInfo(), first);
  assert.match(formatBackendLine(first), /^\[backend\] wasm \(simd, 1 thread, \+\d+ kernels\) tfjs 4\.22\.0 pid=\d+ — /);
});

test.run();
