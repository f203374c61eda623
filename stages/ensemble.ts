// ensemble: the trained models this instance depends on, merged into one model that averages their
// class probabilities. Averaging models that made different mistakes is the cheapest guard against
// the run-to-run luck that decides how a single model fares on another lab's images.
// Published in train's layout (train.json + model/), so evaluate, the report and `pipe predict` use
// an ensemble exactly like any trained model. Members are the `train` deps in pipeline.json; they
// must agree on everything that turns an image into the model's input (classes, input size,
// preprocessing, cell representation, normalisation).
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage, StageError, type DepOutput } from '../pipeline/stage-api.js';
import { mergeAveragingEnsemble, readSavedModel, writeSavedModel } from './lib/classifier/averaging-ensemble.js';
import { MODEL_DIR, TRAIN_JSON, type TrainRecord } from './lib/classifier/train-record.js';

export interface EnsembleParams {
  /** How member outputs are combined; `mean` of the class probabilities is the one rule so far. */
  combine: 'mean';
}

export interface EnsembleMember {
  instanceId: string;
  arch: string;
  mode: string;
  /** Prefix of this member's layer and weight names inside the merged model. */
  prefix: string;
}

/** train.json of an ensemble: a TrainRecord whose mode is "ensemble", with its members. */
export interface EnsembleRecord extends Omit<TrainRecord, 'mode'> {
  mode: 'ensemble';
  members: EnsembleMember[];
}

const paramsSchema = {
  type: 'object',
  properties: { combine: { enum: ['mean'] } },
  required: ['combine'],
  additionalProperties: false,
};

/** The fields that must be equal across members for one input to suit them all. */
const MUST_AGREE = ['classes', 'inputSize', 'preprocessing', 'cell', 'normalization'] as const;

function readRecord(dep: DepOutput): TrainRecord {
  const file = join(dep.dir, TRAIN_JSON);
  if (!existsSync(file)) throw new StageError('train.json is missing', file);
  return JSON.parse(readFileSync(file, 'utf8')) as TrainRecord;
}

/** What an ensemble without any member records (nothing to classify with). */
function emptyRecord(instanceId: string): TrainRecord {
  return {
    schemaVersion: 1, instanceId, arch: 'none', mode: 'transfer', status: 'skipped', classes: [], inputSize: 0, preprocessing: 'rescale',
    weights: null, cell: null, normalization: null, sources: [], params: {}, data: { train: 0, val: 0 },
    epochs: { planned: 0, completed: 0, kept: null, stoppedEarly: false, resumedFrom: null }, best: null, parameters: null,
    backend: null, versions: {}, seconds: { wall: 0, training: 0 },
  };
}

export default defineStage<EnsembleParams>({
  paramsSchema,
  async run(ctx) {
    const started = performance.now();
    const deps = ctx.depList('train').sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
    const all = deps.map((dep) => ({ dep, record: readRecord(dep) }));
    const trained = all.filter((m) => m.record.status === 'trained');
    for (const m of all) if (m.record.status !== 'trained') ctx.warn(`${ctx.instanceId}: leaving out ${m.dep.instanceId} (${m.record.reason ?? 'not trained'})`);

    const first = trained[0];
    for (const m of trained.slice(1)) {
      for (const field of MUST_AGREE) {
        if (first && JSON.stringify(m.record[field]) !== JSON.stringify(first.record[field])) {
          throw new StageError(
            `members disagree on ${field}: ${first.dep.instanceId} has ${JSON.stringify(first.record[field])}, ${m.dep.instanceId} has ${JSON.stringify(m.record[field])}; only models that read the same input can be averaged`,
            join(m.dep.dir, TRAIN_JSON),
          );
        }
      }
    }
    const modes = trained.map((m) => m.record.mode);
    const members: EnsembleMember[] = trained.map((m, k) => ({
      instanceId: m.dep.instanceId,
      arch: m.record.arch,
      mode: m.record.mode,
      prefix: new Set(modes).size === modes.length ? `${m.record.mode}__` : `m${k + 1}_${m.record.mode}__`,
    }));

    if (first) {
      const saved = await Promise.all(trained.map((m) => readSavedModel(join(m.dep.dir, MODEL_DIR))));
      let merged;
      try {
        merged = mergeAveragingEnsemble(saved, members.map((m) => m.prefix), 'ensemble');
      } catch (error) {
        throw new StageError((error as Error).message, `${ctx.instanceId} (members ${members.map((m) => m.instanceId).join(', ')})`);
      }
      await writeSavedModel(join(ctx.outDir, MODEL_DIR), merged);
    }

    const reason = first
      ? undefined
      : all.length === 0
        ? 'no member in this run (none of its train deps is in the matrix)'
        : `no member was trained (${all.map((m) => `${m.dep.instanceId}: ${m.record.reason ?? m.record.status}`).join('; ')})`;
    const base: TrainRecord = first?.record ?? all[0]?.record ?? emptyRecord(ctx.instanceId);
    const archs = [...new Set(trained.map((m) => m.record.arch))];
    const sum = (f: (r: TrainRecord) => number) => Math.round(trained.reduce((s, m) => s + f(m.record), 0) * 100) / 100;
    const record: EnsembleRecord = {
      ...base,
      instanceId: ctx.instanceId,
      arch: archs.join(' + ') || base.arch,
      mode: 'ensemble',
      status: first ? 'trained' : 'skipped',
      ...(reason ? { reason } : {}),
      params: ctx.params as unknown as Record<string, unknown>,
      // The merged model takes the cell's size when a member does (averaging-ensemble.ts).
      cellSize: trained.find((m) => m.record.cellSize)?.record.cellSize ?? null,
      epochs: { planned: 0, completed: 0, kept: null, stoppedEarly: false, resumedFrom: null },
      best: null,
      parameters: trained.every((m) => m.record.parameters)
        ? { trainable: 0, total: trained.reduce((n, m) => n + m.record.parameters!.total, 0) }
        : null,
      // Training an ensemble is training its members (plus the merge, which takes well under a second).
      seconds: { wall: Math.round((sum((r) => r.seconds.wall) + (performance.now() - started) / 1000) * 100) / 100, training: sum((r) => r.seconds.training) },
      members,
    };
    await writeFile(join(ctx.outDir, 'history.jsonl'), '');
    await writeFile(join(ctx.outDir, TRAIN_JSON), JSON.stringify(record, null, 2) + '\n');
    if (reason) ctx.warn(`${ctx.instanceId}: ${reason}`);
    else ctx.log(`${ctx.instanceId}: mean of ${members.map((m) => m.instanceId).join(', ')}`);
  },
});
