// Class weights and label smoothing: the targets a head's loss is taken against.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { balancedClassWeights, shapeTargets, targetShaping } from '../../stages/lib/classifier/loss-targets.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

const close = (a: number[], b: number[]) => assert.ok(a.every((v, i) => Math.abs(v - b[i]!) < 1e-6), `${a} vs ${b}`);

test('balanced weights give every class the same total weight; an absent class weighs 0', () => {
  const labels = [0, 0, 0, 1, 2, 2];
  const w = balancedClassWeights(labels, 4);
  close(w, [6 / 12, 6 / 4, 6 / 8, 0]);
  const totals = [0, 1, 2].map((c) => labels.filter((l) => l === c).length * w[c]!);
  close(totals, [1.5, 1.5, 1.5]);
});

test('smoothing spreads ε over the classes; the weight of the true class scales the whole row', () => {
  const y = tf.tensor2d([[1, 0], [0, 1]]);
  const t = shapeTargets(y, { classWeights: [0.5, 2], labelSmoothing: 0.1 });
  close(Array.from(t.dataSync()), [0.475, 0.025, 0.1, 1.9]);
  close(Array.from(y.dataSync()), [1, 0, 0, 1]); // the batch's labels are left as they were
  close(Array.from(shapeTargets(y, { classWeights: null, labelSmoothing: 0.2 }).dataSync()), [0.9, 0.1, 0.1, 0.9]);
});

test('settings without weights or smoothing keep the plain one-hot targets', () => {
  assert.is(targetShaping({}, [0, 1], 2), null);
  assert.is(targetShaping({ classWeights: 'none', labelSmoothing: 0 }, [0, 1], 2), null);
  assert.equal(targetShaping({ classWeights: 'balanced' }, [0, 0, 1], 2), { classWeights: [0.75, 1.5], labelSmoothing: 0 });
});

test.run();
