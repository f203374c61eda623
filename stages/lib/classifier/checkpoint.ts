// Per-epoch training checkpoints: model weights and optimizer slots by position (names differ between
// processes when tfjs auto-numbers layers), plus the loop state needed to resume exactly where it stopped.
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface LoopState {
  /** Epochs completed (1-based count). */
  epochsDone: number;
  /** Optimizer steps taken so far (drives learning-rate decay). */
  steps: number;
  bestValLoss: number | null;
  bestEpoch: number | null;
  /** Epochs since the validation loss last improved. */
  epochsWithoutImprovement: number;
  stoppedEarly: boolean;
  /** Seconds spent training so far, summed over resumed runs. */
  seconds: number;
}

interface StoredTensors {
  specs: tf.io.WeightsManifestEntry[];
  data: ArrayBuffer;
}

async function encode(tensors: tf.Tensor[]): Promise<StoredTensors> {
  const named = tensors.map((tensor, i) => ({ name: `w${i}`, tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  return { specs, data };
}

async function writeTensors(dir: string, name: string, tensors: tf.Tensor[]): Promise<void> {
  const { specs, data } = await encode(tensors);
  await writeFile(join(dir, `${name}.bin`), new Uint8Array(data));
  await writeFile(join(dir, `${name}.json`), JSON.stringify(specs));
}

async function readTensors(dir: string, name: string): Promise<tf.Tensor[]> {
  const specs = JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8')) as tf.io.WeightsManifestEntry[];
  const bytes = await readFile(join(dir, `${name}.bin`));
  const map = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, specs);
  return specs.map((s) => map[s.name]!);
}

/** Writes `<dir>/{weights,optimizer}.{json,bin}` and `state.json` (last, so a torn write is never read as complete). */
export async function saveCheckpoint(
  dir: string,
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  state: LoopState,
): Promise<void> {
  const tmp = `${dir}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeTensors(tmp, 'weights', model.getWeights());
  const slots = await optimizer.getWeights();
  await writeTensors(tmp, 'optimizer', slots.map((s) => s.tensor));
  await writeFile(join(tmp, SCALARS), JSON.stringify(await readScalars(optimizer)));
  await writeFile(join(tmp, 'state.json'), JSON.stringify(state, null, 2));
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

const SCALARS = 'optimizer-scalars.json';

/**
 * Scalar variables an optimizer keeps beside its slots, which `getWeights` leaves out: Adam's running
 * β₁ᵗ and β₂ᵗ. Its `setWeights` recomputes them as powers, which differ in the last bits from the
 * running products, so a resumed run would drift from an uninterrupted one; they are saved as they are.
 */
function scalarVariables(optimizer: tf.Optimizer): [string, tf.Variable][] {
  return Object.entries(optimizer)
    .filter((e): e is [string, tf.Variable] => e[1] instanceof tf.Variable && e[1].size === 1)
    .sort(([a], [b]) => (a < b ? -1 : 1));
}

async function readScalars(optimizer: tf.Optimizer): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, v] of scalarVariables(optimizer)) out[name] = (await v.data())[0]!;
  return out;
}

/** A checkpoint this version can resume from exactly (older ones lack the optimizer's scalars). */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, 'state.json')) && existsSync(join(dir, SCALARS));
}

/** Restores weights and optimizer slots into a freshly built (same architecture) model; returns the loop state. */
export async function loadCheckpoint(dir: string, model: tf.LayersModel, optimizer: tf.Optimizer): Promise<LoopState> {
  const weights = await readTensors(dir, 'weights');
  if (weights.length !== model.weights.length) {
    throw new Error(`${dir}: checkpoint holds ${weights.length} weights, the model has ${model.weights.length}`);
  }
  model.setWeights(weights);
  tf.dispose(weights);
  const slots = await readTensors(dir, 'optimizer');
  if (slots.length > 0) await optimizer.setWeights(slots.map((tensor, i) => ({ name: `slot${i}`, tensor })));
  tf.dispose(slots);
  const scalars = JSON.parse(await readFile(join(dir, SCALARS), 'utf8')) as Record<string, number>;
  for (const [name, v] of scalarVariables(optimizer)) {
    const value = scalars[name];
    if (value === undefined) throw new Error(`${dir}: checkpoint lacks the optimizer's ${name}`);
    // float32 → JSON number → float32 is exact.
    tf.tidy(() => v.assign(tf.scalar(value, v.dtype)));
  }
  return JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as LoopState;
}

/** Saves only the model weights (the best epoch so far), by position. */
export async function saveWeightsSnapshot(dir: string, model: tf.LayersModel): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeTensors(dir, 'best.tmp', model.getWeights());
  await rename(join(dir, 'best.tmp.bin'), join(dir, 'best.bin'));
  await rename(join(dir, 'best.tmp.json'), join(dir, 'best.json'));
}

export async function loadWeightsSnapshot(dir: string, model: tf.LayersModel): Promise<boolean> {
  if (!existsSync(join(dir, 'best.json'))) return false;
  const weights = await readTensors(dir, 'best');
  model.setWeights(weights);
  tf.dispose(weights);
  return true;
}
