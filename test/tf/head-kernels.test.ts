// The native head fit's SIMD passes (native/training-kernels.c: head_standardize, head_dropout,
// head_dropout_grad, head_kernel_grads) against the same arithmetic in tfjs ops on the pure-JS cpu backend, on
// random inputs: relative error below 1e-5.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../stages/tf/backend.js';
import { heapBuffers, simdKernels } from '../../stages/tf/simd-kernels.js';
import type { BackendWasm } from '../../stages/tf/wasm-kernel-utils.js';
import { mulberry32 } from '../../stages/lib/random.js';
import { relativeError } from './relative-error.js';

await initBackend({ prefer: 'wasm', quiet: true });
const backend = tf.findBackend('wasm') as unknown as BackendWasm;
const kernels = simdKernels(backend);

const random = (n: number, seed: number, scale = 1) => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
};

/**
 * Runs `body` on heap copies of `inputs` followed by buffers of the `outputs` lengths; returns every buffer's
 * values afterwards, inputs first (a kernel may write an input, as head_standardize writes the moments).
 */
function onHeap(inputs: Float32Array[], outputs: number[], body: (ptrs: number[]) => void): Float32Array[] {
  const heap = heapBuffers(backend, [...inputs.map((a) => a.length), ...outputs]);
  try {
    inputs.forEach((a, i) => heap.view(i).set(a));
    body([...heap.ptrs]);
    return heap.ptrs.map((_, k) => heap.view(k).slice());
  } finally {
    heap.free();
  }
}

/** The values of the tensors `f` computes with tfjs ops on the cpu backend. */
function onCpu(f: () => tf.Tensor[]): Float32Array[] {
  tf.setBackend('cpu');
  try {
    const tensors = tf.tidy(f);
    const values = tensors.map((t) => t.dataSync() as Float32Array);
    tf.dispose(tensors);
    return values;
  } finally {
    tf.setBackend('wasm');
  }
}

for (const [n, d] of [[32, 480], [7, 13], [64, 3840]] as const) {
  test(`head_standardize, ${n} of 60 rows × ${d} (training and inference)`, () => {
    const rows = 60;
    const x = random(rows * d, 1, 3);
    const picked = Array.from({ length: n }, (_, i) => (i * 7 + 3) % rows);
    const gamma = random(d, 2);
    const beta = random(d, 3);
    const moving = [random(d, 4), Float32Array.from(random(d, 5), (v) => 1 + Math.abs(v))];
    const eps = 1e-3;
    for (const training of [true, false]) {
      const rowIndex = new Float32Array(new Int32Array(picked).buffer);
      const [, , , , mean, variance, , xn, xhat] = onHeap(
        [x, rowIndex, gamma, beta, training ? new Float32Array(d) : moving[0]!, training ? new Float32Array(d) : moving[1]!],
        [d, n * d, n * d],
        ([px, pr, pg, pb, pm, pv, ps, pxn, pxh]) => kernels.head_standardize(px!, pr!, n, d, pg!, pb!, eps, pm!, pv!, ps!, training ? 1 : 0, pxn!, pxh!),
      );
      const expected = onCpu(() => {
        const xb = tf.gather(tf.tensor2d(x, [rows, d]), tf.tensor1d(picked, 'int32'));
        const m = training ? tf.moments(xb, 0) : { mean: tf.tensor1d(moving[0]!), variance: tf.tensor1d(moving[1]!) };
        const norm = xb.sub(m.mean).div(m.variance.add(eps).sqrt());
        const out = norm.mul(tf.tensor1d(gamma)).add(tf.tensor1d(beta));
        return [m.mean, m.variance, norm, out];
      });
      const label = training ? 'training' : 'inference';
      assert.ok(relativeError(mean!, expected[0]!) < 1e-5, `${label} mean`);
      assert.ok(relativeError(variance!, expected[1]!) < 1e-5, `${label} variance`);
      assert.ok(relativeError(xn!, expected[2]!) < 1e-5, `${label} xn ${relativeError(xn!, expected[2]!)}`);
      assert.ok(relativeError(xhat!, expected[3]!) < 1e-5, `${label} xhat`);
    }
  });
}

test('head_kernel_grads: the kernel gradient γ·g + β·db and BN gradients Σ w·g, w·db', () => {
  const [d, h] = [97, 36];
  const g = random(d * h, 11);
  const w = random(d * h, 12);
  const gamma = random(d, 13);
  const beta = random(d, 14);
  const db = random(h, 15);
  const [, , , , , dw, dgamma, dbeta] = onHeap([g, w, gamma, beta, db], [d * h, d, d], ([pg, pw, pgm, pbt, pdb, pdw, pdg, pdbt]) =>
    kernels.head_kernel_grads(pg!, pw!, pgm!, pbt!, pdb!, d, h, pdw!, pdg!, pdbt!));
  const expected = onCpu(() => {
    const G = tf.tensor2d(g, [d, h]);
    const W = tf.tensor2d(w, [d, h]);
    const Db = tf.tensor2d(db, [1, h]);
    return [
      G.mul(tf.tensor2d(gamma, [d, 1])).add(tf.tensor2d(beta, [d, 1]).mul(Db)),
      W.mul(G).sum(1),
      W.mul(Db).sum(1),
    ];
  });
  assert.ok(relativeError(dw!, expected[0]!) < 1e-5, 'dkernel');
  assert.ok(relativeError(dgamma!, expected[1]!) < 1e-5, 'dgamma');
  assert.ok(relativeError(dbeta!, expected[2]!) < 1e-5, 'dbeta');
});

test('head_dropout and head_dropout_grad: tfjs dropout of relu outputs and its gradient', () => {
  const count = 1000;
  const hidden = Float32Array.from(random(count, 21), (v) => Math.max(0, v));
  const u = Float32Array.from(random(count, 22), (v) => (v + 1) / 2);
  const dy = random(count, 23);
  const keep = 0.5;
  const [, , , out, dx] = onHeap([hidden, u, dy], [count, count], ([ph, pu, pdy, po, pdx]) => {
    kernels.head_dropout(ph!, pu!, po!, count, keep, 1 / keep);
    kernels.head_dropout_grad(pdy!, po!, pdx!, count, 1 / keep);
  });
  const expected = onCpu(() => {
    const mask = tf.floor(tf.tensor1d(u).add(keep)).div(keep);
    const o = tf.tensor1d(hidden).mul(mask);
    return [o, tf.where(o.greater(0), tf.tensor1d(dy).mul(1 / keep), tf.zerosLike(o))];
  });
  assert.equal(Array.from(out!), Array.from(expected[0]!));
  assert.equal(Array.from(dx!), Array.from(expected[1]!));
});

test.run();
