// Class-balanced self-training's choice of cells and its rounds (stages/lib/classifier/self-training.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { confidentPerClass, selfTrain } from '../../stages/lib/classifier/self-training.js';

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

test.run();
