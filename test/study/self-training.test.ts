// Class-balanced self-training's choice of cells and its rounds (stages/lib/classifier/self-training.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { confidentPerClass, selfTrain, selfTrainHead } from '../../stages/lib/classifier/self-training.js';

test('confidentPerClass: each predicted class gives its own most confident share, at least one row', () => {
  const p = [
    [0.9, 0.1, 0],    // 0: class 0, 0.9
    [0.6, 0.4, 0],    // 1: class 0, 0.6
    [0.8, 0.2, 0],    // 2: class 0, 0.8
    [0.7, 0.3, 0],    // 3: class 0, 0.7
    [0.2, 0.55, 0.25], // 4: class 1, 0.55 (the only one)
    [0.1, 0, 0.9],    // 5: class 2, 0.9
    [0.3, 0, 0.7],    // 6: class 2, 0.7
  ];
  // Half of class 0 (rows 0 and 2), one of class 1 (its only row), one of class 2 (row 5).
  assert.equal(confidentPerClass(p, 0.5), [0, 2, 4, 5]);
  // A small share still takes the most confident row of every predicted class: a lab read as mostly one
  // class keeps a voice for the others.
  assert.equal(confidentPerClass(p, 0.01), [0, 4, 5]);
  assert.equal(confidentPerClass(p, 1), [0, 1, 2, 3, 4, 5, 6]);
});

test('selfTrain: the share grows round by round and each round learns from the one before', async () => {
  const first = [[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.1, 0.9], [0.2, 0.8], [0.4, 0.6]];
  const calls: { rows: number[]; labels: number[]; round: number }[] = [];
  const last = await selfTrain(first, { rounds: 3, portion: 0.9 }, async (rows, labels, round) => {
    calls.push({ rows, labels, round });
    // The refitted "head" flips row 5 to class 0 with high confidence.
    return first.map((p, i) => (i === 5 ? [0.95, 0.05] : p));
  });
  // Round 1: 30 % of each class (one row each: ceil(0.9) of class 0's three, ceil(0.9) of class 1's three).
  // Round 2 reads round 1's predictions, where row 5 is class 0: 60 % of class 0's four rows (5, 0, 1) and
  // of class 1's two (3, 4). Round 3: 90 % (ceil(3.6) = 4 of class 0, 2 of class 1): every row.
  assert.equal(calls.map((c) => c.round), [1, 2, 3]);
  assert.equal(calls[0]!.rows, [0, 3]);
  assert.equal(calls[0]!.labels, [0, 1]);
  assert.equal(calls[1]!.rows, [0, 1, 3, 4, 5]);
  assert.equal(calls[1]!.labels, [0, 0, 1, 1, 0]);
  assert.equal(calls[2]!.rows, [0, 1, 2, 3, 4, 5]);
  assert.equal(last[5], [0.95, 0.05]);
});

/** A 2-class softmax head on 2-d vectors whose logits start as [x0, −x0]: it reads only the first coordinate. */
function firstCoordinateHead(): tf.LayersModel {
  const input = tf.input({ shape: [2] });
  const dense = tf.layers.dense({ units: 2, activation: 'softmax', name: 'head_predictions' });
  const model = tf.model({ inputs: input, outputs: dense.apply(input) as tf.SymbolicTensor });
  dense.setWeights([tf.tensor2d([[1, -1], [0, 0]]), tf.zeros([2])]);
  return model;
}

test('selfTrainHead with anchors: the lab\'s labelled cells join every round and teach what its own guesses cannot', async () => {
  await tf.setBackend('cpu');
  // Ten cells of class 0 at (0.4, −1) and ten of class 1 at (0.2, +1): the head calls all twenty class 0.
  const lab = Float32Array.from({ length: 40 }, (_, i) => (i < 20 ? [0.4, -1] : [0.2, 1])[i % 2]!);
  const settings = { rounds: 2, portion: 1, epochs: 40, learningRate: 0.05 };
  const predicted = (p: number[][]) => p.map((row) => (row[1]! > row[0]! ? 1 : 0));
  const alone = predicted(await selfTrainHead(firstCoordinateHead(), lab, 2, { settings, seed: 1, stateDir: null }));
  assert.equal(alone, Array(20).fill(0), 'on its own labels alone the head never learns class 1');
  // Two labelled cells of each class, placed as the lab's own.
  const anchors = { x: Float32Array.from([0.4, -1, 0.4, -1, 0.2, 1, 0.2, 1]), labels: [0, 0, 1, 1] };
  const anchored = predicted(await selfTrainHead(firstCoordinateHead(), lab, 2, { settings, seed: 1, stateDir: null, anchors }));
  assert.equal(anchored, [...Array(10).fill(0), ...Array(10).fill(1)]);
  const mismatch = await selfTrainHead(firstCoordinateHead(), lab, 2, { settings, seed: 1, stateDir: null, anchors: { x: anchors.x, labels: [0] } }).catch((e: Error) => e);
  assert.match(String(mismatch), /4 anchor vectors for 1 labels/);
});

test.run();
