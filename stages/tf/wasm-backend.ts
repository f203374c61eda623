// Starts the wasm backend (binaries resolved from node_modules, so it also works when the caller
// was bundled by esbuild into .pipe/bundles/) and registers leukopipe's training kernels on it.
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { registerWasmTrainingKernels } from './wasm-training-kernels.js';

export interface WasmBackendStatus {
  simd: boolean;
  threads: number;
  trainingKernels: string[];
  version: string;
}

export interface WasmInitOptions {
  /** Register leukopipe's kernels: 'all' (default), or 'missing' (only kernels stock wasm lacks; for benchmarks). */
  kernels?: 'all' | 'missing';
}

export async function initWasmBackend(options: WasmInitOptions = {}): Promise<WasmBackendStatus> {
  const require = createRequire(import.meta.url);
  const wasmModule = await import('@tensorflow/tfjs-backend-wasm');
  const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  if (!existsSync(join(dist, 'tfjs-backend-wasm-simd.wasm'))) {
    throw new Error(`tfjs-backend-wasm binaries not found in ${dist}`);
  }
  wasmModule.setWasmPaths(dist + '/');
  const trainingKernels = registerWasmTrainingKernels(options.kernels ?? 'all');
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
  await tf.ready();
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const version = (wasmModule as { version_wasm?: string }).version_wasm ?? tf.version_core;
  return { simd, threads: wasmModule.getThreadsCount(), trainingKernels, version };
}
