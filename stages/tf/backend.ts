// Chooses the tfjs backend for this process, once: native TensorFlow on a GPU when tfjs-node-gpu
// is installed and a GPU is visible, then native TensorFlow on the CPU (tfjs-node), then
// WebAssembly (XNNPACK, SIMD) with leukopipe's training kernels, then pure JS (reference only).
// Everything else in the project just does `import * as tf from '@tensorflow/tfjs'`.
import * as tf from '@tensorflow/tfjs';
import { cpus } from 'node:os';
import { existsSync, readdirSync } from 'node:fs';
import { initWasmBackend } from './wasm-backend.js';

export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** What ran the maths; JSON-serialisable so train/evaluate can put it in their artifacts. */
export interface BackendInfo {
  /** `tf.getBackend()`: 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  /** npm package that provides the backend. */
  package: string;
  /** Why this backend, e.g. `auto: @tensorflow/tfjs-node-gpu not installed; ... → wasm`. */
  reason: string;
  /** Human-readable device, e.g. `CPU: AMD EPYC 9R14 ×2` or `GPU (CUDA_VISIBLE_DEVICES=1)`. */
  device: string;
  gpu: boolean;
  /** wasm: SIMD binary loaded; false elsewhere. */
  simd: boolean;
  /** wasm: threads of the wasm module (1 in Node); native: 0 (TensorFlow decides). */
  threads: number;
  /** Kernels leukopipe registered on top of the stock backend (wasm only). */
  trainingKernels: string[];
  versions: { tfjs: string; node: string; backend: string };
  pid: number;
}

/** The parts of the outside world the choice depends on; tests replace them. */
export interface BackendEnvironment {
  /** Imports an optional package; rejects when it is not installed or fails to load. */
  importOptional(name: string): Promise<unknown>;
  /** Whether a CUDA GPU is visible to this process. */
  gpuVisible(): boolean;
  env: Record<string, string | undefined>;
}

export interface InitBackendOptions {
  /** Overrides `LEUKOPIPE_BACKEND`; 'auto' (default) walks the order above. */
  prefer?: BackendPreference | string;
  /** No log line. */
  quiet?: boolean;
  /** For tests: what "installed" and "GPU visible" mean. */
  environment?: BackendEnvironment;
}

const GPU_PACKAGE = '@tensorflow/tfjs-node-gpu';
const NODE_PACKAGE = '@tensorflow/tfjs-node';

let current: Promise<BackendInfo> | null = null;
let currentInfo: BackendInfo | null = null;

/** Initialises the backend for this process (idempotent) and logs the choice once. */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  if (!current) {
    current = selectBackend(options).then((info) => {
      currentInfo = info;
      if (!options.quiet) process.stderr.write(formatBackendLine(info) + '\n');
      return info;
    });
    current.catch(() => (current = null));
  }
  return current;
}

/** The info recorded by `initBackend`, or null before it finished. */
export function backendInfo(): BackendInfo | null {
  return currentInfo;
}

/** One compact line: `[backend] wasm (simd, 1 thread, +7 kernels) pid=12 — auto: ...`. */
export function formatBackendLine(info: BackendInfo): string {
  const detail = info.name === 'wasm'
    ? `${info.simd ? 'simd' : 'no simd'}, ${info.threads} thread${info.threads === 1 ? '' : 's'}, +${info.trainingKernels.length} kernels`
    : info.device;
  return `[backend] ${info.name} (${detail}) tfjs ${info.versions.tfjs} pid=${info.pid} — ${info.reason}`;
}

export const defaultEnvironment: BackendEnvironment = {
  importOptional: (name) => import(name),
  gpuVisible: () => {
    const visible = process.env.CUDA_VISIBLE_DEVICES;
    if (visible !== undefined && (visible.trim() === '' || visible.trim() === '-1')) return false;
    try {
      return existsSync('/dev/nvidia0') || readdirSync('/proc/driver/nvidia/gpus').length > 0;
    } catch {
      return false;
    }
  },
  env: process.env,
};

function parsePreference(value: string | undefined, source: string): BackendPreference {
  const v = (value ?? 'auto').trim().toLowerCase() || 'auto';
  if ((BACKEND_PREFERENCES as readonly string[]).includes(v)) return v as BackendPreference;
  throw new Error(`${source}: unknown backend "${value}" (expected one of ${BACKEND_PREFERENCES.join(', ')})`);
}

/**
 * Makes the choice and switches tfjs to it, without the once-per-process memo of `initBackend`
 * (tests call it with a simulated environment).
 */
export async function selectBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const environment = options.environment ?? defaultEnvironment;
  const prefer = options.prefer !== undefined
    ? parsePreference(options.prefer, 'backend option')
    : parsePreference(environment.env.LEUKOPIPE_BACKEND, 'LEUKOPIPE_BACKEND');
  const how = options.prefer !== undefined ? `prefer=${prefer}` : environment.env.LEUKOPIPE_BACKEND ? `LEUKOPIPE_BACKEND=${prefer}` : 'auto';
  const notes: string[] = [];

  if (prefer === 'auto' || prefer === 'tensorflow') {
    const native = await tryNative(environment, notes);
    if (native) return { ...native, reason: `${how}: ${[...notes, native.reason].join('; ')}` };
    if (prefer === 'tensorflow') {
      throw new Error(`backend "tensorflow" requested (${how}) but unavailable: ${notes.join('; ')}`);
    }
  }
  if (prefer === 'auto' || prefer === 'wasm') {
    try {
      const wasm = await initWasmBackend();
      notes.push('wasm ok');
      return describe('wasm', '@tensorflow/tfjs-backend-wasm', `${how}: ${notes.join('; ')}`, cpuDevice(), {
        simd: wasm.simd, threads: wasm.threads, trainingKernels: wasm.trainingKernels, backendVersion: wasm.version,
      });
    } catch (err) {
      if (prefer === 'wasm') throw new Error(`backend "wasm" requested (${how}) but failed: ${(err as Error).message}`);
      notes.push(`wasm failed (${(err as Error).message})`);
    }
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return describe('cpu', '@tensorflow/tfjs-backend-cpu', `${how}: ${[...notes, 'pure-JS cpu (reference speed)'].join('; ')}`, cpuDevice(), {
    simd: false, threads: 1, trainingKernels: [], backendVersion: tf.version['tfjs-backend-cpu'] ?? tf.version_core,
  });
}

/** tfjs-node-gpu when a GPU is visible, else tfjs-node; null (with notes) when neither loads. */
async function tryNative(environment: BackendEnvironment, notes: string[]): Promise<BackendInfo | null> {
  const gpu = environment.gpuVisible();
  const candidates: Array<{ pkg: string; gpu: boolean }> = [];
  if (gpu) candidates.push({ pkg: GPU_PACKAGE, gpu: true });
  else notes.push(`no GPU visible, ${GPU_PACKAGE} skipped`);
  candidates.push({ pkg: NODE_PACKAGE, gpu: false });
  for (const candidate of candidates) {
    let mod: unknown;
    try {
      mod = await environment.importOptional(candidate.pkg);
    } catch (err) {
      notes.push(`${candidate.pkg} ${isNotInstalled(err, candidate.pkg) ? 'not installed' : `failed to load (${firstLine(err)})`}`);
      continue;
    }
    // The native package registers the 'tensorflow' backend on the shared tfjs-core on import.
    if (!(await tf.setBackend('tensorflow'))) {
      notes.push(`${candidate.pkg} loaded but the 'tensorflow' backend did not initialise`);
      continue;
    }
    await tf.ready();
    const version = (mod as { version?: Record<string, string> }).version?.['tfjs-node'] ?? tf.version_core;
    const visible = environment.env.CUDA_VISIBLE_DEVICES;
    const device = candidate.gpu ? `GPU (CUDA_VISIBLE_DEVICES=${visible ?? 'all'})` : `${cpuDevice()} (native TensorFlow)`;
    return describe('tensorflow', candidate.pkg, `${candidate.pkg} loaded`, device, {
      simd: false, threads: 0, trainingKernels: [], backendVersion: version, gpu: candidate.gpu,
    });
  }
  return null;
}

function describe(
  name: string, pkg: string, reason: string, device: string,
  extra: { simd: boolean; threads: number; trainingKernels: string[]; backendVersion: string; gpu?: boolean },
): BackendInfo {
  return {
    name, package: pkg, reason, device, gpu: extra.gpu ?? false, simd: extra.simd, threads: extra.threads,
    trainingKernels: extra.trainingKernels,
    versions: { tfjs: tf.version.tfjs ?? tf.version_core, node: process.versions.node, backend: extra.backendVersion },
    pid: process.pid,
  };
}

function cpuDevice(): string {
  const list = cpus();
  const model = (list[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
  return `CPU: ${model} ×${list.length}`;
}

/** The package itself is missing (not, say, its native binding). */
function isNotInstalled(err: unknown, pkg: string): boolean {
  const code = (err as { code?: string }).code;
  const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
  return missing && firstLine(err).includes(`'${pkg}'`);
}

function firstLine(err: unknown): string {
  return String((err as Error).message ?? err).split('\n')[0] ?? '';
}
