// Runs the cross-lab stage (leave one lab out + labelling curve) outside the runner on the published
// split and features of the last `pipe run`, once per method variant given as JSON param overrides, and
// prints each variant's per-lab held-out figures — the table in bench/results/labs.md.
//   node --import tsx bench/cross-lab-methods.ts '{}' '{"standardizeFeatures":false}'
// FEATURES_DIR=DIR reads the vectors from DIR instead (bench/cross-lab-feature-variants.ts writes such a one).
// HEAD_FIT=tfjs fits the heads through tfjs layers instead of natively (fit-head.ts), for A/B runs.
// ALIGN=coral:S replaces AdaBN, in the adapted figure, by test-time CORAL with shrinkage S (bench/lib/coral-alignment.ts).
// SELF_TRAIN_REFIT=R:P replaces it by R rounds of self-training that refit a fresh head on the other labs' rows
// plus the held-out lab's most confident cells, the last round taking P of each predicted class
// (bench/lib/self-training-refit.ts); :adabn takes the labels from, and scores, the heads with AdaBN.
// CENTROID=hidden|input[:I] replaces it by labels from the held-out lab's own clusters (SHOT's: centroids weighted
// by the head's probabilities, nearest centroid, I iterations) in the head's hidden layer or standardised input;
// :self-centroid / :self-head runs the stage's self-training with those labels each round and scores the clusters
// or the head (bench/lib/centroid-labels.ts). Give the variant "adapt":"adabn", since the hook trains the head.
// DANN=λ[:epochs[:learning rate]] replaces it by domain-adversarial training of the head against a discriminator of
// the held-out lab's cells (bench/lib/domain-adversarial.ts; defaults 10 epochs, 3e-4); the head stays adapted, so
// the self-trained figure starts from it.
// IM=epochs[:learning rate[:diversity weight]] replaces it by SHOT's information maximisation on the held-out cells
// alone (bench/lib/information-maximization.ts; defaults 1e-3 and 1); the head stays adapted, as with DANN.
// IM_FOLDER=n adapts folders of about n of the lab's cells, each from the head as trained.
// The stage's own self-training (the held-out head trained on those cells alone) is '{"adapt":"self-training"}'.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import crossLab, { setHeldOutAdaptation, type CrossLabParams } from '../stages/cross-lab.js';
import { predictFeatureMatrix } from '../stages/lib/classifier/feature-matrix.js';
import { SELF_TRAINING_DEFAULTS } from '../stages/lib/classifier/self-training.js';
import { refitSelfTraining } from './lib/self-training-refit.js';
import { coralAlign } from './lib/coral-alignment.js';
import { domainAdversarial } from './lib/domain-adversarial.js';
import { informationMaximization } from './lib/information-maximization.js';
import { centroidAdaptation, centroidSelfTraining, type CentroidSpace } from './lib/centroid-labels.js';
import type { CrossLabRecord } from '../stages/lib/records/cross-lab-record.js';
import { depLookup, type DeclaredDep, type DepOutput } from '../pipeline/stage-api.js';
import { setNativeHeadFit } from '../stages/lib/classifier/fit-head.js';
import { interpolateValue } from '../pipeline/config/interpolate.js';

if (process.env.HEAD_FIT === 'tfjs') setNativeHeadFit(false);
const align = /^coral:([0-9.]+)$/.exec(process.env.ALIGN ?? '');
if (process.env.ALIGN && !align) throw new Error(`ALIGN must be coral:<shrinkage>, got ${process.env.ALIGN}`);
if (align) setHeldOutAdaptation(async ({ model, train, heldOut, dim }) => predictFeatureMatrix(model, coralAlign(train.x, heldOut, dim, Number(align[1])), dim));
const refit = /^([0-9]+):([0-9.]+)(:adabn)?$/.exec(process.env.SELF_TRAIN_REFIT ?? '');
if (process.env.SELF_TRAIN_REFIT && !refit) throw new Error(`SELF_TRAIN_REFIT must be <rounds>:<final portion>[:adabn], got ${process.env.SELF_TRAIN_REFIT}`);
const centroid = /^(hidden|input)(?::([0-9]+))?(?::self-(centroid|head))?$/.exec(process.env.CENTROID ?? '');
if (process.env.CENTROID && !centroid) throw new Error(`CENTROID must be hidden|input[:iterations][:self-centroid|:self-head], got ${process.env.CENTROID}`);
const dann = /^([0-9.]+)(?::([0-9]+))?(?::([0-9.e-]+))?$/.exec(process.env.DANN ?? '');
if (process.env.DANN && !dann) throw new Error(`DANN must be <strength>[:<epochs>[:<learning rate>]], got ${process.env.DANN}`);
const im = /^([0-9]+)(?::([0-9.e-]+))?(?::([0-9.]+))?$/.exec(process.env.IM ?? '');
if (process.env.IM && !im) throw new Error(`IM must be <epochs>[:<learning rate>[:<diversity weight>]], got ${process.env.IM}`);
if (align && refit) throw new Error('ALIGN and SELF_TRAIN_REFIT each replace AdaBN: give one');

const ws = process.cwd();
const config = JSON.parse(readFileSync(path.join(ws, 'pipeline.json'), 'utf8'));
const arch = process.env.ARCH ?? 'mobilenet_v1_0.25';
// The stage's params with `${vars.…}` and `${matrix.…}` substituted, as the runner hands them.
const base = interpolateValue(config.stages.find((s: { id: string }) => s.id === 'cross-lab').params, { vars: config.vars ?? {}, matrix: { arch } }) as CrossLabParams;
const declaredDeps: Record<string, DeclaredDep> = {
  split: { where: 'bench/cross-lab-methods.ts', selector: 'split', instances: ['split'] },
  features: { where: 'bench/cross-lab-methods.ts', selector: 'features[arch=${matrix.arch}]', instances: [`features[arch=${arch}]`] },
  augment: { where: 'bench/cross-lab-methods.ts', selector: 'augment', instances: ['augment'] },
  segment: { where: 'bench/cross-lab-methods.ts', selector: 'segment', instances: ['segment'] },
};
// Keyed by instance id, as the runner hands them.
const deps: Record<string, DepOutput> = {
  split: { instanceId: 'split', stageId: 'split', matrix: {}, dir: path.join(ws, 'artifacts/stages/split'), name: 'split', key: 'bench-key', created: null, seconds: null },
  augment: { instanceId: 'augment', stageId: 'augment', matrix: {}, dir: path.join(ws, 'artifacts/stages/augment'), name: 'augment', key: 'bench-key', created: null, seconds: null },
  segment: { instanceId: 'segment', stageId: 'segment', matrix: {}, dir: path.join(ws, 'artifacts/stages/segment'), name: 'segment', key: 'bench-key', created: null, seconds: null },
  [`features[arch=${arch}]`]: { instanceId: `features[arch=${arch}]`, stageId: 'features', matrix: { arch }, dir: process.env.FEATURES_DIR ?? path.join(ws, `artifacts/stages/features[arch=${arch}]`), name: 'features', key: 'bench-key', created: null, seconds: null },
};
const pct = (v: number | null | undefined) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : 'n/a');
for (const variant of process.argv.slice(2).length ? process.argv.slice(2) : ['{}']) {
  const params = { ...base, ...JSON.parse(variant) } as CrossLabParams;
  if (centroid) {
    const [space, iterations, final] = [centroid[1] as CentroidSpace, Number(centroid[2] ?? 2), centroid[3] as 'centroid' | 'head' | undefined];
    setHeldOutAdaptation(final ? centroidSelfTraining(space, iterations, { ...SELF_TRAINING_DEFAULTS, ...params.selfTraining }, params.seed, final) : centroidAdaptation(space, iterations));
  }
  if (dann) setHeldOutAdaptation(domainAdversarial(Number(dann[1]), Number(dann[2] ?? 10), Number(dann[3] ?? 3e-4), params.seed));
  if (im) setHeldOutAdaptation(informationMaximization(Number(im[1]), Number(im[2] ?? 1e-3), Number(im[3] ?? 1), params.seed, Number(process.env.IM_FOLDER ?? 0)));
  if (refit) setHeldOutAdaptation(refitSelfTraining(Number(refit[1]), Number(refit[2]), params.seed, !!refit[3]));
  const outDir = mkdtempSync(path.join(tmpdir(), 'cross-lab-'));
  const t0 = performance.now();
  await crossLab.run({
    instanceId: `cross-lab[arch=${arch}]`, stageId: 'cross-lab', matrix: { arch }, params, workspace: ws, outDir,
    stateDir: mkdtempSync(path.join(tmpdir(), 'cross-lab-state-')), inputs: [], deps, declaredDeps, ...depLookup(deps, declaredDeps), resources: { gpu: [], cpu: 1 },
    signal: new AbortController().signal, log: () => {}, warn: (m) => console.error(m), progress: () => {},
  });
  const r = JSON.parse(readFileSync(path.join(outDir, 'cross-lab.json'), 'utf8')) as CrossLabRecord;
  if (process.env.KEEP_PREDICTIONS) console.error(`predictions in ${outDir}`);
  console.log(`\n### ${variant} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  // With adapt: self-training, three more columns: the self-trained figures.
  const st = r.adapt === 'self-training';
  const figures = (f: { accuracy: number | null; balancedAccuracy: number | null; macroF1: number | null } | null | undefined) => `${pct(f?.accuracy)} | ${pct(f?.balancedAccuracy)} | ${f?.macroF1?.toFixed(3) ?? 'n/a'} |`;
  console.log(`| held-out lab | n | accuracy | 95 % CI | balanced | macro-F1 | AdaBN accuracy | AdaBN balanced | AdaBN macro-F1 |${st ? ' self-trained accuracy | self-trained balanced | self-trained macro-F1 |' : ''}\n|---|--:|--:|--:|--:|--:|--:|--:|--:|${st ? '--:|--:|--:|' : ''}`);
  for (const h of r.heldOut) {
    const a = h.asTrained;
    console.log(`| ${h.lab} | ${a.n} | ${pct(a.accuracy)} | ${pct(a.accuracyCi?.low)}–${pct(a.accuracyCi?.high)} | ${pct(a.balancedAccuracy)} | ${a.macroF1?.toFixed(3)} | ${figures(h.adapted)}${st ? ` ${figures(h.selfTrained)}` : ''}`);
  }
  console.log(`| **mean** | | ${pct(r.mean.asTrained.accuracy)} | | ${pct(r.mean.asTrained.balancedAccuracy)} | ${r.mean.asTrained.macroF1?.toFixed(3)} | ${figures(r.mean.adapted)}${st ? ` ${figures(r.mean.selfTrained)}` : ''}`);
  const ks = [...new Set(r.curve.map((c) => c.k))];
  console.log(`\nlabelling curve (accuracy / balanced, n):\n\n| lab | ${ks.map((k) => `k=${k}`).join(' | ')} |\n|---|${ks.map(() => '--:|').join('')}`);
  for (const lab of r.labs) console.log(`| ${lab} | ${ks.map((k) => { const c = r.curve.find((x) => x.lab === lab && x.k === k); return c ? `${pct(c.accuracy)} / ${pct(c.balancedAccuracy)} (${c.testN})` : 'n/a'; }).join(' | ')} |`);
}
