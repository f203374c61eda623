// Optimizers by name, with Keras' time-based learning-rate decay (`decay` in Keras ≤ 2.2, which the
// original study's RMSprop(lr=1e-5, decay=1e-3) means; tfjs' RMSprop `decay` is Keras' rho instead).
import * as tf from '@tensorflow/tfjs';
import { timeBasedDecay } from './training-loop.js';
import { fusedAdam } from '../../tf/fused-adam-optimizer.js';

export interface OptimizerParams {
  name: 'adam' | 'rmsprop' | 'sgd';
  learningRate: number;
  /** Keras time-based decay: lr / (1 + decay · step). */
  decay?: number;
  /** RMSprop discounting factor (Keras rho). */
  rho?: number;
  momentum?: number;
}

export function createOptimizer(params: OptimizerParams, subject: string): {
  optimizer: tf.Optimizer;
  schedule: ((step: number) => number) | null;
} {
  const lr = params.learningRate;
  if (!(typeof lr === 'number' && lr > 0)) throw new Error(`${subject}.learningRate must be a positive number, got ${JSON.stringify(lr)}`);
  let optimizer: tf.Optimizer;
  switch (params.name) {
    case 'adam':
      optimizer = fusedAdam(lr);
      break;
    case 'rmsprop':
      optimizer = tf.train.rmsprop(lr, params.rho ?? 0.9, params.momentum ?? 0, 1e-7);
      break;
    case 'sgd':
      optimizer = params.momentum ? tf.train.momentum(lr, params.momentum) : tf.train.sgd(lr);
      break;
    default:
      throw new Error(`${subject}.name must be adam, rmsprop or sgd, got ${JSON.stringify((params as { name: unknown }).name)}`);
  }
  return { optimizer, schedule: params.decay ? timeBasedDecay(lr, params.decay) : null };
}
