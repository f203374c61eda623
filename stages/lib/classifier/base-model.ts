// The convolutional base an architecture contributes to transfer learning: built by the model zoo,
// with ImageNet weights from the `weights` stage or a seeded random initialisation (smoke runs; every
// process that builds it gets the same numbers, so cached features and the saved model agree).
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArchSpec } from '../../models/arch-spec.js';
import { loadWeightsFromStage } from '../../models/imagenet-weights.js';
import { pooledPyramid, pyramidTapLayers } from './feature-pyramid.js';
import { seededReinitialize } from './seeded-init.js';

export { seededReinitialize };

export type BaseWeights = 'imagenet' | 'random';

export interface WeightsStatus {
  status: 'present' | 'missing' | 'builtin' | string;
  message?: string;
  file?: string;
}

/** Reads `<weightsDir>/weights.json` written by the `weights` stage. */
export function readWeightsStatus(weightsDir: string): WeightsStatus {
  const path = join(weightsDir, 'weights.json');
  if (!existsSync(path)) throw new Error(`${path}: missing (the weights stage writes it)`);
  return JSON.parse(readFileSync(path, 'utf8')) as WeightsStatus;
}

/** Why ImageNet weights cannot be used, or null when they can. */
export function missingWeightsReason(arch: string, weightsDir: string | null): string | null {
  if (!weightsDir) return `no weights[arch=${arch}] dependency`;
  const status = readWeightsStatus(weightsDir);
  if (status.status === 'missing') return `weights missing — ${status.message ?? `no ImageNet weights for ${arch}`}`;
  return null;
}

/**
 * The base of `spec` at `inputSize` with the requested weights, globally average-pooled: the last
 * layer only (`levels` 1, Keras's `pooling: 'avg'`), or the last layer of each of the `levels`
 * deepest resolutions, concatenated (feature-pyramid.ts). `taps` names the pooled layers.
 */
export async function buildPooledBase(
  spec: ArchSpec,
  inputSize: number,
  weights: BaseWeights,
  options: { weightsDir: string | null; seed: number; levels?: number },
): Promise<{ model: tf.LayersModel; taps: string[] }> {
  const levels = options.levels ?? 1;
  const raw = spec.build([inputSize, inputSize, 3], { includeTop: false, pooling: levels === 1 ? 'avg' : null });
  if (weights === 'random') seededReinitialize(raw, options.seed);
  else {
    if (!options.weightsDir) throw new Error(`${spec.name}: ImageNet weights need a weights[arch=${spec.name}] dependency`);
    await loadWeightsFromStage(raw, spec, options.weightsDir);
  }
  if (levels === 1) return { model: raw, taps: [spec.featureLayer] };
  const taps = pyramidTapLayers(raw, levels);
  return { model: pooledPyramid(raw, taps), taps };
}
