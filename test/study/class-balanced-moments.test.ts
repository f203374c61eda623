// The statistics class-balanced AdaBN takes from a lab whose class mix is skewed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { classBalancedMoments, rowMoments } from '../../stages/lib/classifier/class-balanced-moments.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-4, `${what}: ${a} vs ${b}`);

// A lab of nine cells of class 0 (feature values 0 and 2, alternating) and one of class 1 (value 10).
const x = Float32Array.from([0, 2, 0, 2, 0, 2, 0, 2, 0, 10]);
const oneHot = [...Array(9).fill([1, 0]), [0, 1]] as number[][];

test('plain moments follow the lab\'s mix; class-balanced ones weight each class equally', () => {
  const plain = rowMoments(x, 1);
  close(plain.mean[0]!, (8 + 10) / 10, 'plain mean');
  const balanced = classBalancedMoments(x, 1, oneHot);
  // Class 0: mean 8/9, E[x²] 16/9; class 1: mean 10, E[x²] 100.
  const mean = (8 / 9 + 10) / 2;
  close(balanced.mean[0]!, mean, 'balanced mean');
  close(balanced.variance[0]!, (16 / 9 + 100) / 2 - mean * mean, 'balanced variance');
});

test('a class the lab carries less than one cell of is left out; none at all falls back to the plain moments', () => {
  const faint = oneHot.map((p) => [p[0]!, p[1]!, 0.05]);
  close(classBalancedMoments(x, 1, faint).mean[0]!, classBalancedMoments(x, 1, oneHot).mean[0]!, 'faint class ignored');
  const nothing = oneHot.map(() => [0.05, 0.05]);
  close(classBalancedMoments(x, 1, nothing).mean[0]!, rowMoments(x, 1).mean[0]!, 'fallback');
  assert.throws(() => classBalancedMoments(x, 1, oneHot.slice(1)), /10 rows but 9/);
});

test.run();
