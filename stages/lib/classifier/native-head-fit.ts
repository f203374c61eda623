// The study's head (graph-surgery.ts: BatchNormalization → Dense(relu) → Dropout → Dense(softmax)) fitted on
// feature vectors by hand on the wasm heap, instead of through tfjs layers' trainOnBatch. A head step is
// tiny (three products of a few MFLOP), and through tfjs most of its time went to the engine, the gradient
// tape and ~60 small kernels: measured on the cross-lab study, the wasm arithmetic was 38 % of the time.
// Here a step is two batch × hidden × dim gemm_f32 products (the kernel's gradient as xnᵀ·dh also gives BN's,
// head_kernel_grads), small products for the output layer, a few SIMD passes and one adam_update per weight.
//
// It follows training-loop.ts's fit() step for step, so the results stay those of the tfjs path up to
// float rounding: the same seeded batch order, initial weights (read from the model), dropout masks
// (tf.randomUniform seeded from the per-epoch Math.random, as tfjs's dropout draws them), loss (Keras'
// categorical cross-entropy on the renormalised, clipped softmax, with the shaped targets), moving
// statistics, Adam (the same scalars and kernel as fused-adam-optimizer.ts), BatchNorm recalibration,
// validation, early stopping, best-epoch weights, per-epoch history and checkpoints to resume from.
// At the end the model holds the kept weights, so prediction, AdaBN and saving use it as before.
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { epochSeed, seededPermutation } from './batch-source.js';
import type { LoopState } from './checkpoint.js';
import type { TargetShaping } from './loss-targets.js';
import type { FitOptions, FitResult } from './training-loop.js';
import { epochLine, epochRandom, epochRecord, freshState, improvedOnValidation, readHistory, trimHistory } from './training-loop.js';
import { FusedAdamOptimizer } from '../../tf/fused-adam-optimizer.js';
import { ADAM_UPDATE } from '../../tf/kernels/adam-update.js';
import { gemmBlockOfK } from '../../tf/kernels/batch-mat-mul.js';
import { heapBuffers, simdKernels, type HeapBuffers } from '../../tf/simd-kernels.js';
import type { BackendWasm } from '../../tf/wasm-kernel-utils.js';

/** Feature vectors as rows of one matrix, with their class indices. */
export interface HeadMatrix {
  x: Float32Array;
  labels: readonly number[];
}

/** What the head looks like, read from its layers; null when it is not the study's head. */
interface HeadShape {
  dim: number;
  hidden: number;
  classes: number;
  norm: { layer: tf.layers.Layer; epsilon: number; momentum: number } | null;
  dense: tf.layers.Layer;
  out: tf.layers.Layer;
  /** Dropout's keep probability. */
  keep: number;
}

export function nativeHeadShape(model: tf.LayersModel): HeadShape | null {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  let i = 0;
  let norm: HeadShape['norm'] = null;
  const config = (l: tf.layers.Layer | undefined) => (l ? (l.getConfig() as Record<string, unknown>) : {});
  if (layers[0]?.getClassName() === 'BatchNormalization') {
    const c = config(layers[0]);
    if (c.center === false || c.scale === false || (c.axis !== -1 && c.axis !== 1)) return null;
    norm = { layer: layers[0], epsilon: c.epsilon as number, momentum: c.momentum as number };
    i = 1;
  }
  const [dense, drop, out] = [layers[i], layers[i + 1], layers[i + 2]];
  if (layers.length !== i + 3 || dense?.getClassName() !== 'Dense' || drop?.getClassName() !== 'Dropout' || out?.getClassName() !== 'Dense') return null;
  const [d, r, o] = [config(dense), config(drop), config(out)];
  if (d.activation !== 'relu' || o.activation !== 'softmax' || d.useBias === false || o.useBias === false || r.noiseShape != null) return null;
  const rate = r.rate as number;
  const inputShape = model.inputs[0]?.shape;
  const dim = inputShape?.[1];
  if (model.inputs.length !== 1 || inputShape?.length !== 2 || typeof dim !== 'number' || !(rate >= 0 && rate < 1)) return null;
  return { dim, hidden: d.units as number, classes: o.units as number, norm, dense, out, keep: 1 - rate };
}

/** Whether `fitHeadNatively` can train this model with this optimizer here (wasm backend, leukopipe's Adam). */
export function canFitHeadNatively(model: tf.LayersModel, optimizer: tf.Optimizer): boolean {
  return tf.getBackend() === 'wasm' && !!tf.getKernel(ADAM_UPDATE, 'wasm') && optimizer instanceof FusedAdamOptimizer && nativeHeadShape(model) !== null;
}

/** fit()'s options, with the training and validation rows as matrices in memory. */
export interface NativeFitOptions extends Omit<FitOptions, 'train' | 'val'> {
  train: HeadMatrix;
  val: HeadMatrix | null;
  batchSize: number;
}

const HISTORY = 'history.jsonl';
const CHECKPOINT = 'native-checkpoint';
const BEST = 'native-best.bin';
const VAL_ROWS = 256;
const CLIP = 1e-7;

/** A file of float32 values (a checkpoint's or the best epoch's weights). */
async function readFloats(path: string): Promise<Float32Array> {
  const bytes = await readFile(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** One trainable weight on the heap: value, gradient and Adam's two moments. */
interface Param {
  name: string;
  size: number;
  w: number;
  g: number;
  m: number;
  v: number;
}

export async function fitHeadNatively(options: NativeFitOptions): Promise<FitResult> {
  const shape = nativeHeadShape(options.model);
  const optimizer = options.optimizer;
  if (!shape || !(optimizer instanceof FusedAdamOptimizer)) throw new Error('fitHeadNatively: not the study head with leukopipe Adam');
  const backend = tf.backend() as unknown as BackendWasm;
  const kernels = simdKernels(backend);
  const { dim: D, hidden: H, classes: C, norm } = shape;
  const B = options.batchSize;
  const R = Math.max(B, VAL_ROWS);
  const log = options.log ?? (() => {});
  const { train, val } = options;
  for (const [name, m] of [['train', train], ['val', val]] as const) {
    if (m && m.x.length !== m.labels.length * D) throw new Error(`fitHeadNatively: ${name} has ${m.x.length} values for ${m.labels.length} rows of ${D}`);
  }

  // Heap layout: the two matrices, activations and gradients, gemm panels, then each weight's value,
  // gradient and Adam moments. Transposed operands are made explicitly (one SIMD transpose is faster than
  // gemm_f32's strided reads, as kernels/batch-mat-mul.ts found).
  const panel = (k: number, n: number) => gemmBlockOfK(k, n) * Math.max(8, Math.floor(n / 8) * 8);
  const panelFloats = Math.max(panel(D, H), panel(H, C), panel(B, C), panel(C, H), panel(B, H));
  const paramSizes: [string, number][] = [...(norm ? ([['gamma', D], ['beta', D]] as [string, number][]) : []), ['kernel', D * H], ['bias', H], ['outKernel', H * C], ['outBias', C]];
  const buffers = {
    xTrain: train.x.length, xVal: val ? val.x.length : 1, rows: R, xn: R * D, xhat: R * D, hidden: R * H, dropped: B * H, logits: R * C,
    dLogits: B * C, dDropped: B * H, dHidden: B * H, panels: panelFloats, xhatT: B * D, gram: norm ? D * H : 1, droppedT: B * H,
    outKernelT: C * H, mean: D, variance: D, scale: D, sumPart: H, sumAcc: 2 * H,
  };
  const names = Object.keys(buffers) as (keyof typeof buffers)[];
  const heap: HeapBuffers = heapBuffers(backend, [...names.map((k) => buffers[k]), ...paramSizes.flatMap(([, n]) => [n, n, n, n])]);
  const at = Object.fromEntries(names.map((k, i) => [k, i])) as Record<keyof typeof buffers, number>;
  const first = names.length;
  const params: Param[] = paramSizes.map(([name, size], k) => ({ name, size, w: first + 4 * k, g: first + 1 + 4 * k, m: first + 2 + 4 * k, v: first + 3 + 4 * k }));
  const param = (name: string) => params.find((p) => p.name === name)!;
  const ptr = (i: number) => heap.ptrs[i]!;
  const buf = (k: keyof typeof buffers) => heap.ptrs[at[k]]!;
  const view = (k: keyof typeof buffers) => heap.view(at[k]);
  const movingMean = new Float32Array(norm ? D : 0);
  const movingVar = new Float32Array(norm ? D : 0);
  const adam = optimizer.hyperparameters();
  let accBeta1 = Math.fround(adam.beta1);
  let accBeta2 = Math.fround(adam.beta2);

  try {
    view('xTrain').set(train.x);
    if (val) view('xVal').set(val.x);
    // Initial weights: the model's own (its seeded Glorot kernels, BN's ones and zeros).
    const layerWeights = (l: tf.layers.Layer) => l.getWeights().map((t) => t.dataSync() as Float32Array);
    if (norm) {
      const [gamma, beta, mean, variance] = layerWeights(norm.layer);
      heap.view(param('gamma').w).set(gamma!);
      heap.view(param('beta').w).set(beta!);
      movingMean.set(mean!);
      movingVar.set(variance!);
    }
    const [kernel, bias] = layerWeights(shape.dense);
    const [outKernel, outBias] = layerWeights(shape.out);
    heap.view(param('kernel').w).set(kernel!);
    heap.view(param('bias').w).set(bias!);
    heap.view(param('outKernel').w).set(outKernel!);
    heap.view(param('outBias').w).set(outBias!);
    for (const p of params) heap.view(p.m).fill(0), heap.view(p.v).fill(0);

    /** Everything a checkpoint holds besides the loop state: weights, moving statistics, Adam's moments. */
    const stateParts = (withMoments: boolean) => [...params.map((p) => heap.view(p.w)), movingMean, movingVar, ...(withMoments ? params.flatMap((p) => [heap.view(p.m), heap.view(p.v)]) : [])];
    const snapshot = (withMoments: boolean): Float32Array => {
      const parts = stateParts(withMoments);
      const out = new Float32Array(parts.reduce((n, a) => n + a.length, 0));
      let offset = 0;
      for (const a of parts) out.set(a, offset), (offset += a.length);
      return out;
    };
    const restore = (data: Float32Array, withMoments: boolean, source: string) => {
      const parts = stateParts(withMoments);
      const total = parts.reduce((n, a) => n + a.length, 0);
      if (data.length !== total) throw new Error(`${source}: holds ${data.length} values, this head needs ${total}`);
      let offset = 0;
      for (const a of parts) a.set(data.subarray(offset, offset + a.length)), (offset += a.length);
    };

    const gemm = (a: number, b: number, c: number, m: number, k: number, n: number, bias = 0, relu = false) =>
      kernels.gemm_f32(a, b, c, m, k, n, 0, 0, buf('panels'), gemmBlockOfK(k, n), bias, relu ? 2 : 0, 0, 0);
    const transpose = (src: number, dst: number, rows: number, cols: number) => kernels.transpose_matrices(src, dst, 1, rows, cols);

    // --- the forward pass, shared by training, recalibration and validation ---
    /** xhat (and xn) of rows `rows` of matrix `x`: batch statistics in training (into mean/variance), else the moving ones. */
    const standardize = (x: number, matrix: Float32Array, rows: ArrayLike<number>, training: boolean) => {
      const n = rows.length;
      if (!norm) {
        const xhat = view('xhat');
        for (let b = 0; b < n; b++) xhat.set(matrix.subarray(rows[b]! * D, rows[b]! * D + D), b * D);
        return;
      }
      const r = view('rows');
      new Int32Array(r.buffer, r.byteOffset, n).set(rows);
      if (!training) view('mean').set(movingMean), view('variance').set(movingVar);
      kernels.head_standardize(x, buf('rows'), n, D, ptr(param('gamma').w), ptr(param('beta').w), norm.epsilon, buf('mean'), buf('variance'), buf('scale'),
        training ? 1 : 0, buf('xn'), buf('xhat'));
    };
    /** hidden = relu(xhat · kernel + bias) for n rows. */
    const hiddenLayer = (n: number) => gemm(buf('xhat'), ptr(param('kernel').w), buf('hidden'), n, D, H, ptr(param('bias').w), true);
    /** logits = input · outKernel + outBias for n rows. */
    const logitsOf = (input: number, n: number) => gemm(input, ptr(param('outKernel').w), buf('logits'), n, H, C, ptr(param('outBias').w));
    /** Softmax of row b of the logits into p (float32 values, as tfjs's softmax gives). */
    const softmax = (z: Float32Array, b: number, p: Float64Array) => {
      let max = -Infinity;
      for (let c = 0; c < C; c++) max = Math.max(max, z[b * C + c]!);
      let sum = 0;
      for (let c = 0; c < C; c++) sum += p[c] = Math.exp(z[b * C + c]! - max);
      for (let c = 0; c < C; c++) p[c] = Math.fround(p[c]! / sum);
    };
    const argMax = (a: ArrayLike<number>, n: number) => {
      let best = 0;
      for (let c = 1; c < n; c++) if (a[c]! > a[best]!) best = c;
      return best;
    };

    // --- one training step on rows `rows` of the training matrix ---
    const p = new Float64Array(C);
    const t = new Float64Array(C);
    const gq = new Float64Array(C);
    const gp = new Float64Array(C);
    const keep = Math.fround(shape.keep);
    const multiplier = Math.fround(1 / keep);
    const targetsOf = (label: number) => {
      t.fill(0);
      t[label] = 1;
      const s = options.targets;
      if (!s) return;
      if (s.labelSmoothing > 0) for (let c = 0; c < C; c++) t[c] = Math.fround(Math.fround(t[c]! * Math.fround(1 - s.labelSmoothing)) + Math.fround(s.labelSmoothing / C));
      if (s.classWeights) for (let c = 0; c < C; c++) t[c] = Math.fround(t[c]! * s.classWeights[label]!);
    };
    const step = (rows: number[], learningRate: number): { loss: number; accuracy: number } => {
      const n = rows.length;
      standardize(buf('xTrain'), train.x, rows, true);
      if (norm) {
        const decay = Math.fround(1 - norm.momentum);
        const mean = view('mean');
        const variance = view('variance');
        for (let d = 0; d < D; d++) {
          movingMean[d] = movingMean[d]! - Math.fround(Math.fround(movingMean[d]! - mean[d]!) * decay);
          movingVar[d] = movingVar[d]! - Math.fround(Math.fround(movingVar[d]! - variance[d]!) * decay);
        }
      }
      hiddenLayer(n);
      // Dropout: tfjs's own uniform draw (seeded from Math.random, as its dropout op draws it).
      const draw = tf.randomUniform([n, H], 0, 1, 'float32');
      kernels.head_dropout(buf('hidden'), backend.dataIdMap.get(draw.dataId)!.memoryOffset as number, buf('dropped'), n * H, keep, multiplier);
      draw.dispose();
      logitsOf(buf('dropped'), n);
      // Loss (Keras: softmax renormalised, clipped to [1e-7, 1 − 1e-7], −Σ t log q, mean over the batch) and
      // its gradient with respect to the logits, through the clip and the renormalisation.
      const z = view('logits');
      const gz = view('dLogits');
      const gb2 = heap.view(param('outBias').g);
      gb2.fill(0);
      let lossSum = 0;
      let hits = 0;
      for (let b = 0; b < n; b++) {
        softmax(z, b, p);
        targetsOf(train.labels[rows[b]!]!);
        let sum = 0;
        for (let c = 0; c < C; c++) sum += p[c]!;
        let gqp = 0;
        for (let c = 0; c < C; c++) {
          const q = p[c]! / sum;
          const clipped = Math.min(Math.max(q, CLIP), 1 - CLIP);
          lossSum -= t[c]! * Math.log(clipped);
          gq[c] = q < CLIP || q > 1 - CLIP ? 0 : -t[c]! / clipped / n;
          gqp += gq[c]! * p[c]!;
        }
        // q = p / Σp: ∂L/∂p_c = g_c / S − Σ_j g_j p_j / S²; then through the softmax.
        let gpp = 0;
        for (let c = 0; c < C; c++) gpp += (gp[c] = gq[c]! / sum - gqp / (sum * sum)) * p[c]!;
        for (let c = 0; c < C; c++) gb2[c]! += gz[b * C + c] = p[c]! * (gp[c]! - gpp);
        if (argMax(p, C) === argMax(t, C)) hits++;
      }
      // Back through the output layer, dropout and relu, and the hidden layer.
      transpose(buf('dropped'), buf('droppedT'), n, H);
      gemm(buf('droppedT'), buf('dLogits'), ptr(param('outKernel').g), H, n, C);
      transpose(ptr(param('outKernel').w), buf('outKernelT'), H, C);
      gemm(buf('dLogits'), buf('outKernelT'), buf('dDropped'), n, C, H);
      kernels.head_dropout_grad(buf('dDropped'), buf('dropped'), buf('dHidden'), n * H, multiplier);
      kernels.sum_rows(buf('dHidden'), n, H, ptr(param('bias').g), buf('sumPart'), buf('sumAcc'), 1);
      if (norm) {
        // g = xnᵀ·dHidden gives the kernel's gradient and BN's (head_kernel_grads): two products, not three.
        transpose(buf('xn'), buf('xhatT'), n, D);
        gemm(buf('xhatT'), buf('dHidden'), buf('gram'), D, n, H);
        kernels.head_kernel_grads(buf('gram'), ptr(param('kernel').w), ptr(param('gamma').w), ptr(param('beta').w), ptr(param('bias').g), D, H,
          ptr(param('kernel').g), ptr(param('gamma').g), ptr(param('beta').g));
      } else {
        transpose(buf('xhat'), buf('xhatT'), n, D);
        gemm(buf('xhatT'), buf('dHidden'), ptr(param('kernel').g), D, n, H);
      }
      // Adam, with tfjs's scalars (fused-adam-optimizer.ts).
      const f = Math.fround;
      const b1 = f(adam.beta1);
      const b2 = f(adam.beta2);
      for (const q of params) {
        kernels.adam_update(ptr(q.w), ptr(q.g), ptr(q.m), ptr(q.v), ptr(q.m), ptr(q.v), ptr(q.w), q.size, b1, f(1 - adam.beta1), b2, f(1 - adam.beta2),
          f(1 - accBeta1), f(1 - accBeta2), f(adam.epsilon), f(-learningRate));
      }
      accBeta1 = f(accBeta1 * b1);
      accBeta2 = f(accBeta2 * b2);
      return { loss: lossSum / n, accuracy: hits / n };
    };

    /** BatchNorm recalibration (batch-norm-recalibration.ts): moving statistics = mean batch moments over `batches` batches. */
    const recalibrate = (batches: number, seed: number) => {
      if (!norm || batches < 1) return;
      const order = seededPermutation(train.labels.length, seed);
      const sumMean = new Float64Array(D);
      const sumVar = new Float64Array(D);
      let seen = 0;
      for (let start = 0; start < order.length && seen < batches; start += B, seen++) {
        standardize(buf('xTrain'), train.x, order.slice(start, start + B), true);
        const mean = view('mean');
        const variance = view('variance');
        for (let d = 0; d < D; d++) (sumMean[d]! += mean[d]!), (sumVar[d]! += variance[d]!);
      }
      if (seen === 0) return;
      for (let d = 0; d < D; d++) (movingMean[d] = sumMean[d]! / seen), (movingVar[d] = sumVar[d]! / seen);
    };

    /** Mean cross-entropy (softmax clipped to [1e-7, 1 − 1e-7]) and accuracy of `val` in inference mode, as evaluateSource. */
    const evaluate = () => {
      const m = val!; // its rows are on the heap as xVal
      let lossSum = 0;
      let correct = 0;
      const n = m.labels.length;
      for (let start = 0; start < n; start += R) {
        const count = Math.min(R, n - start);
        standardize(buf('xVal'), m.x, Array.from({ length: count }, (_, i) => start + i), false);
        hiddenLayer(count);
        logitsOf(buf('hidden'), count);
        const z = view('logits');
        for (let b = 0; b < count; b++) {
          softmax(z, b, p);
          const label = m.labels[start + b]!;
          lossSum -= Math.log(Math.min(Math.max(p[label]!, CLIP), 1 - CLIP));
          if (argMax(p, C) === label) correct++;
        }
      }
      return n === 0 ? { loss: NaN, accuracy: NaN } : { loss: lossSum / n, accuracy: correct / n };
    };

    // --- the loop: fit()'s, with the state in files of its own ---
    await mkdir(options.stateDir, { recursive: true });
    const checkpointDir = join(options.stateDir, CHECKPOINT);
    const bestPath = join(options.stateDir, BEST);
    const historyPath = join(options.stateDir, HISTORY);
    let state: LoopState = freshState();
    let resumedFromEpoch: number | null = null;
    if (existsSync(join(checkpointDir, 'state.json'))) {
      const saved = JSON.parse(await readFile(join(checkpointDir, 'state.json'), 'utf8')) as { loop: LoopState; accBeta1: number; accBeta2: number };
      restore(await readFloats(join(checkpointDir, 'weights.bin')), true, join(checkpointDir, 'weights.bin'));
      state = saved.loop;
      accBeta1 = saved.accBeta1;
      accBeta2 = saved.accBeta2;
      resumedFromEpoch = state.epochsDone;
      await trimHistory(historyPath, state.epochsDone);
      log(`resuming after epoch ${state.epochsDone} from ${checkpointDir}`);
    } else {
      await writeFile(historyPath, '');
    }
    const saveCheckpoint = async () => {
      const tmp = `${checkpointDir}.tmp`;
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { recursive: true });
      await writeFile(join(tmp, 'weights.bin'), snapshot(true));
      await writeFile(join(tmp, 'state.json'), JSON.stringify({ loop: state, accBeta1, accBeta2 }, null, 2));
      await rm(checkpointDir, { recursive: true, force: true });
      await rename(tmp, checkpointDir);
    };

    const { epochs } = options;
    const stepsPerEpoch = Math.ceil(train.labels.length / B);
    const limit = options.maxStepsPerEpoch ?? Infinity;
    const patience = options.earlyStopping?.patience ?? Infinity;
    const minDelta = options.earlyStopping?.minDelta ?? 0;
    let learningRate = adam.learningRate;
    const unseededRandom = Math.random;
    try {
      while (state.epochsDone < epochs && !state.stoppedEarly) {
        const epoch = state.epochsDone + 1;
        // The same per-epoch generator fit() gives tfjs's dropout.
        Math.random = epochRandom(options.seed, epoch);
        const started = performance.now();
        const order = seededPermutation(train.labels.length, epochSeed(options.seed, epoch - 1));
        let lossSum = 0;
        let accSum = 0;
        let seen = 0;
        for (let start = 0, k = 0; start < order.length && k < limit; start += B, k++) {
          if (options.signal?.aborted) throw new Error('training cancelled');
          if (options.learningRate) learningRate = options.learningRate(state.steps);
          const rows = order.slice(start, start + B);
          const out = step(rows, learningRate);
          lossSum += Math.fround(out.loss) * rows.length;
          accSum += Math.fround(out.accuracy) * rows.length;
          seen += rows.length;
          state.steps += 1;
          options.progress?.((epoch - 1) * Math.min(stepsPerEpoch, limit) + k + 1, epochs * Math.min(stepsPerEpoch, limit), `epoch ${epoch}/${epochs}`);
        }
        if (seen === 0) throw new Error('the training set is empty');
        if (options.recalibrateBatchNorm) recalibrate(options.recalibrateBatchNorm, epochSeed(options.seed, epoch) + 1);
        const valMetrics = val && val.labels.length > 0 ? evaluate() : null;
        const seconds = (performance.now() - started) / 1000;
        const record = epochRecord(epoch, { lossSum, accSum, seen }, valMetrics, seconds, learningRate);
        state.epochsDone = epoch;
        state.seconds += seconds;
        if (valMetrics && improvedOnValidation(state, epoch, valMetrics.loss, minDelta, patience)) {
          await writeFile(`${bestPath}.tmp`, snapshot(false));
          await rename(`${bestPath}.tmp`, bestPath);
        }
        await appendFile(historyPath, JSON.stringify(record) + '\n');
        await saveCheckpoint();
        log(epochLine(record, epochs, state));
      }
    } finally {
      Math.random = unseededRandom;
    }

    let weightsFromEpoch = state.epochsDone;
    if (state.bestEpoch !== null && state.bestEpoch !== state.epochsDone && existsSync(bestPath)) {
      restore(await readFloats(bestPath), false, bestPath);
      weightsFromEpoch = state.bestEpoch;
      log(`kept the weights of epoch ${state.bestEpoch} (lowest val_loss ${state.bestValLoss?.toFixed(4)})`);
    }
    // The model takes the kept weights; tfjs's optimizer keeps its own (unused) state. Copied off the heap
    // first: making the tensors allocates there, and a heap that grows detaches every view of it.
    const copies = (names: string[]) => names.map((n) => heap.view(param(n).w).slice());
    const values: [tf.layers.Layer, Float32Array[]][] = [
      ...(norm ? [[norm.layer, [...copies(['gamma', 'beta']), movingMean.slice(), movingVar.slice()]] as [tf.layers.Layer, Float32Array[]]] : []),
      [shape.dense, copies(['kernel', 'bias'])],
      [shape.out, copies(['outKernel', 'outBias'])],
    ];
    for (const [layer, arrays] of values) {
      const tensors = layer.getWeights().map((w, i) => tf.tensor(arrays[i]!, w.shape, 'float32'));
      layer.setWeights(tensors);
      tf.dispose(tensors);
    }
    optimizer.setLearningRate(learningRate);
    return { history: await readHistory(historyPath), state, resumedFromEpoch, weightsFromEpoch };
  } finally {
    heap.free();
  }
}
