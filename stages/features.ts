// features: the frozen ImageNet base of one architecture turns each cell image into a feature vector
// (global average pool of the last convolutional block), cached per image, so that training a
// transfer head takes seconds and a change to the head never recomputes the base.
//
// Output: features/<stageId>/<rel>.f32 (little-endian float32) per image, and features.json saying
// how they were made (arch, weights, input size, preprocessing, dimension) or why none were.
import * as tf from '@tensorflow/tfjs';
import { statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { definePerItemStage, StageError, type InputFile, type StageContext, type WorkItem } from '../pipeline/stage-api.js';
import { getArchitecture } from './models/registry.js';
import { initBackend } from './tf/backend.js';
import { buildPooledBase, missingWeightsReason, type BaseWeights } from './lib/classifier/base-model.js';
import { assertPreprocessing, imagesToTensor, type Preprocessing } from './lib/classifier/preprocessing.js';
import { pyramidTapLayers } from './lib/classifier/feature-pyramid.js';
import { readImageRgb } from './lib/classifier/read-image.js';
import { variantIndexOf } from './lib/records/augment-variant-name.js';
import { FEATURES_LAYOUT, featureVectorPath, type FeaturesRecord } from './lib/records/features-record.js';
import { declaredDep } from './lib/deps/declared-dep.js';

export interface FeaturesParams {
  arch: string;
  /**
   * `imagenet` (from the weights stage), `random` (seeded), or `imagenet-or-random` (ImageNet where the
   * weights stage has them, else seeded random: smoke runs of every architecture).
   */
  weights: BaseWeights | 'imagenet-or-random';
  /**
   * Square input size; null → the architecture's default; `min` → the smallest it accepts. An object gives
   * it per architecture (`{"mobilenet_v1_0.25": 144, "default": 128}`); an architecture it does not name
   * takes `default`, or its own default size where there is none.
   */
  inputSize: InputSize | Record<string, InputSize>;
  /** `auto` → the architecture's Keras preprocessing. */
  preprocessing: Preprocessing | 'auto';
  /** What to do when ImageNet weights are missing: record why and write nothing, or fail. */
  onMissingWeights: 'skip' | 'fail';
  /**
   * How many of the base's deepest resolutions to pool and concatenate (feature-pyramid.ts); 1 = the
   * last layer only, as Keras's `pooling: 'avg'`.
   */
  levels: number;
  batchSize: number;
  seed: number;
  backend: string;
  /**
   * How many augmented variants of each cell get a vector (the first `variants` of them); null = all.
   * Originals always do. A number applies to every architecture; an object gives it per architecture
   * (`{"resnet50": 1}`; an architecture it does not name gets all). A large base (ResNet50) on a CPU
   * pays per image, and its heads need fewer.
   */
  variants?: number | null | Record<string, number | null>;
}

type InputSize = number | 'min' | null;

/** The input size this instance's architecture asks for (before `min` and null are resolved). */
function inputSizeOf(p: FeaturesParams): InputSize {
  const v = p.inputSize ?? null;
  if (v === null || typeof v !== 'object') return v;
  // An architecture named with null asks for its own default size, not the map's `default`.
  return (Object.hasOwn(v, p.arch) ? v[p.arch] : v.default) ?? null;
}

/** The cap on variants for this instance's architecture (null = all). */
function variantLimit(p: FeaturesParams): number | null {
  const v = p.variants ?? null;
  return v !== null && typeof v === 'object' ? (v[p.arch] ?? null) : v;
}

/** The cells, and of their augmented variants the first `variants` (all where it is null). */
function wantedInputs(p: FeaturesParams): (input: InputFile) => boolean {
  const limit = variantLimit(p);
  return (input) => limit === null || (variantIndexOf(input.rel) ?? -1) < limit;
}

const INPUT_SIZE_SCHEMA = [{ type: 'integer', minimum: 8 }, { type: 'null' }, { const: 'min' }];

const paramsSchema = {
  type: 'object',
  properties: {
    arch: { type: 'string', minLength: 1 },
    weights: { enum: ['imagenet', 'random', 'imagenet-or-random'] },
    inputSize: {
      anyOf: [
        ...INPUT_SIZE_SCHEMA,
        { type: 'object', additionalProperties: { anyOf: INPUT_SIZE_SCHEMA } },
      ],
    },
    preprocessing: { enum: ['auto', 'rescale', 'tf', 'caffe', 'torch'] },
    onMissingWeights: { enum: ['skip', 'fail'] },
    levels: { type: 'integer', minimum: 1, maximum: 8 },
    batchSize: { type: 'integer', minimum: 1 },
    seed: { type: 'integer' },
    backend: { type: 'string' },
    variants: {
      anyOf: [
        { type: 'integer', minimum: 0 },
        { type: 'null' },
        { type: 'object', additionalProperties: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'null' }] } },
      ],
    },
  },
  required: ['arch'],
};

function weightsDir(ctx: StageContext<FeaturesParams>): string | null {
  return declaredDep(ctx, 'weights')?.dir ?? null;
}

async function resolveSettings(ctx: StageContext<FeaturesParams>) {
  const p = ctx.params;
  const spec = await getArchitecture(p.arch);
  const asked = inputSizeOf(p);
  const inputSize = asked === 'min' ? spec.minInputSize : (asked ?? spec.defaultInputSize);
  if (inputSize < spec.minInputSize) {
    throw new StageError(`${spec.kerasName} needs inputs of at least ${spec.minInputSize} px, got ${inputSize}`, `${ctx.instanceId} params.inputSize`);
  }
  const preprocessing = assertPreprocessing(
    !p.preprocessing || p.preprocessing === 'auto' ? spec.preprocessing : p.preprocessing,
    `${ctx.instanceId} params.preprocessing`,
  );
  const wanted = p.weights ?? 'imagenet';
  let missing = wanted === 'random' ? null : missingWeightsReason(p.arch, weightsDir(ctx));
  let weights: BaseWeights = wanted === 'random' ? 'random' : 'imagenet';
  if (missing && wanted === 'imagenet-or-random') (weights = 'random'), (missing = null);
  if (missing && (p.onMissingWeights ?? 'skip') === 'fail') throw new StageError(missing, ctx.instanceId);
  return { spec, inputSize, preprocessing, weights, missing, seed: p.seed ?? 1, batchSize: p.batchSize ?? 32, levels: p.levels ?? 1 };
}

type Settings = Awaited<ReturnType<typeof resolveSettings>>;
let kept: { key: string; model: tf.LayersModel } | null = null;

/**
 * The pooled base, built once per process: the runner hands a worker one chunk of items after another,
 * and building the graph and decoding its weights for every 64 images cost more than the images did.
 */
async function pooledBaseFor(settings: Settings, weights: string | null): Promise<tf.LayersModel> {
  const key = JSON.stringify([settings.spec.name, settings.inputSize, settings.weights, settings.seed, settings.levels, weights]);
  if (kept?.key === key) return kept.model;
  kept?.model.dispose();
  kept = null;
  const { model } = await buildPooledBase(settings.spec, settings.inputSize, settings.weights, { weightsDir: weights, seed: settings.seed, levels: settings.levels });
  kept = { key, model };
  return model;
}

export default definePerItemStage<FeaturesParams>({
  paramsSchema,

  // Missing weights: no item is read at all; features.json (finalize) says why and train reports the
  // architecture as skipped.
  async skipAllItems(ctx) {
    return (await resolveSettings(ctx)).missing;
  },

  // Only the cells and the first `variants` variants get a vector: the runner then never ships, stores or
  // records the other variants (ResNet50: 8,952 of 11,190 inputs in the default run).
  wantsItem(ctx) {
    return wantedInputs(ctx.params);
  },

  async processItems(ctx, items: WorkItem[]) {
    const settings = await resolveSettings(ctx);
    if (settings.missing) return;
    const wanted = wantedInputs(ctx.params);
    items = items.filter((it) => wanted(it.input));
    if (items.length === 0) return;
    await initBackend({ prefer: ctx.params.backend ?? 'auto', quiet: true });
    const base = await pooledBaseFor(settings, weightsDir(ctx));
    let done = 0;
    for (let start = 0; start < items.length; start += settings.batchSize) {
      if (ctx.signal.aborted) throw new Error('cancelled');
      const chunk = items.slice(start, start + settings.batchSize);
      const images = await Promise.all(chunk.map((it) => readImageRgb(it.input.path, settings.inputSize)));
      const x = imagesToTensor(images, settings.inputSize, settings.preprocessing);
      const y = base.predict(x) as tf.Tensor2D;
      const values = await y.data();
      const dim = y.shape[1];
      tf.dispose([x, y]);
      await Promise.all(
        chunk.map(async (item, i) => {
          const producer = ctx.deps[item.input.fromInstance ?? '']?.stageId ?? '';
          const out = join(item.outDir, featureVectorPath(`${producer}/${item.input.rel}`));
          await mkdir(dirname(out), { recursive: true });
          const vector = new Float32Array(values.buffer, values.byteOffset + i * dim * 4, dim);
          await writeFile(out, new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
        }),
      );
      done += chunk.length;
      ctx.progress(done, items.length, 'features');
    }
  },

  async finalize(ctx, items) {
    const settings = await resolveSettings(ctx);
    const record: FeaturesRecord = {
      status: settings.missing ? 'skipped' : 'computed',
      arch: settings.spec.name,
      weights: settings.weights,
      inputSize: settings.inputSize,
      preprocessing: settings.preprocessing,
      seed: settings.seed,
      levels: settings.levels,
      variants: variantLimit(ctx.params),
      dim: null,
      items: items.reduce((n, it) => n + it.files.length, 0),
      layout: FEATURES_LAYOUT,
    };
    if (settings.missing) {
      record.reason = settings.missing;
      ctx.warn(`${ctx.instanceId}: ${settings.missing}`);
    } else {
      // The tap names need the graph only, not the weights.
      await initBackend({ prefer: ctx.params.backend ?? 'auto', quiet: true });
      const graph = settings.spec.build([settings.inputSize, settings.inputSize, 3], { includeTop: false });
      record.taps = settings.levels === 1 ? [settings.spec.featureLayer] : pyramidTapLayers(graph, settings.levels);
      graph.dispose();
      const first = items.find((it) => it.files.length > 0);
      if (first) {
        record.dim = statSync(join(ctx.outDir, first.files[0]!)).size / 4;
      }
    }
    await writeFile(join(ctx.outDir, 'features.json'), JSON.stringify(record, null, 2) + '\n');
  },
});
