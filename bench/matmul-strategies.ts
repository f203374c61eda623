// The plain matrix products of a Dense layer in training — x·W, xᵀ·dy, dy·Wᵀ at batch 32 — timed with each
// way stages/tf/kernels/batch-mat-mul.ts can compute them (all give the same bits), every right operand a
// new tensor as in training. What the 'auto' choice is measured against:
//   node --import tsx bench/matmul-strategies.ts [inputs…]      (default 480 1440 3840)
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend } from '../stages/tf/wasm-backend.js';
import { setMatMulStrategy, type MatMulStrategy } from '../stages/tf/kernels/batch-mat-mul.js';

await initWasmBackend({ kernels: 'all' });
const batch = 32;
const units = 256;
const inputs = process.argv.slice(2).map(Number);
const strategies: MatMulStrategy[] = ['stock', 'swapped', 'unpacked', 'auto'];

function time(run: () => tf.Tensor, reps: number): number {
  for (let i = 0; i < 3; i++) run().dispose();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    // wasm kernels run synchronously: the product is done when run() returns (no read-back timed).
    run().dispose();
  }
  return (performance.now() - t0) / reps;
}

console.log('| inputs | product | ' + strategies.join(' ms | ') + ' ms |\n|--:|---|' + strategies.map(() => '--:|').join(''));
for (const k of inputs.length ? inputs : [480, 1440, 3840]) {
  const x = tf.randomUniform([batch, k], -1, 1, 'float32', 1);
  const dy = tf.randomUniform([batch, units], -1, 1, 'float32', 2);
  const w = tf.randomUniform([k, units], -1, 1, 'float32', 3);
  // A fresh copy of the right operand each time: training's weights and gradients are new tensors every step.
  const fresh = (t: tf.Tensor) => tf.add(t, 0);
  const products: [string, () => tf.Tensor][] = [
    ['x·W', () => tf.tidy(() => tf.matMul(x, fresh(w)))],
    ['xᵀ·dy', () => tf.tidy(() => tf.matMul(x, fresh(dy), true, false))],
    ['dy·Wᵀ', () => tf.tidy(() => tf.matMul(dy, fresh(w), false, true))],
  ];
  for (const [name, run] of products) {
    const ms = strategies.map((s) => {
      setMatMulStrategy(s);
      return time(run, Math.max(20, Math.round(2e8 / (batch * k * units))));
    });
    console.log(`| ${k} | ${name} | ${ms.map((v) => v.toFixed(3)).join(' | ')} |`);
  }
  tf.dispose([x, dy, w]);
}
setMatMulStrategy('auto');
