// tfjs's Adam with each variable's update as one kernel (kernels/adam-update.ts) where the backend has
// it (wasm with leukopipe's kernels), else tfjs's own ops. Same state, same weights for checkpoints
// (`getWeights`/`setWeights` are tfjs's), same bits.
import * as tf from '@tensorflow/tfjs';
import { ADAM_UPDATE, type AdamUpdateAttrs } from './kernels/adam-update.js';

/** The parts of tfjs's AdamOptimizer (4.x) this subclass reads; private there. */
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable }>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable }>;
}

type VariableGradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];
type NamedTensors = Extract<VariableGradients, unknown[]>;
type TensorMap = Exclude<VariableGradients, unknown[]>;

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  /** Adam's constants and current learning rate (protected in tfjs), for a caller that applies the same update itself. */
  hyperparameters(): { beta1: number; beta2: number; epsilon: number; learningRate: number } {
    return { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, learningRate: this.learningRate };
  }

  setLearningRate(learningRate: number): void {
    this.learningRate = learningRate;
  }

  override applyGradients(variableGradients: VariableGradients): void {
    if (!tf.getKernel(ADAM_UPDATE, tf.getBackend())) {
      super.applyGradients(variableGradients);
      return;
    }
    const state = this as unknown as AdamState;
    const named = Array.isArray(variableGradients);
    const names = named ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const f = Math.fround;
    tf.tidy(() => {
      const attrs: AdamUpdateAttrs = {
        beta1: f(this.beta1),
        oneMinusBeta1: f(1 - this.beta1),
        beta2: f(this.beta2),
        oneMinusBeta2: f(1 - this.beta2),
        oneMinusAccBeta1: f(1 - state.accBeta1.dataSync()[0]!),
        oneMinusAccBeta2: f(1 - state.accBeta2.dataSync()[0]!),
        epsilon: f(this.epsilon),
        negativeLearningRate: f(-this.learningRate),
      };
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name]!;
        state.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        state.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const gradient = named ? (variableGradients as NamedTensors)[i]!.tensor : (variableGradients as TensorMap)[name];
        if (gradient == null) return;
        const m = state.accumulatedFirstMoment[i]!.variable;
        const v = state.accumulatedSecondMoment[i]!.variable;
        const [m1, v1, w1] = tf.engine().runKernel(ADAM_UPDATE, { value, gradient, m, v }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(m1!);
        v.assign(v1!);
        value.assign(w1!);
      });
      state.accBeta1.assign(tf.mul(state.accBeta1, this.beta1));
      state.accBeta2.assign(tf.mul(state.accBeta2, this.beta2));
    });
    this.incrementIterations();
  }
}

/** `tf.train.adam(learningRate)` with the fused update. */
export function fusedAdam(learningRate: number): tf.AdamOptimizer {
  return new FusedAdamOptimizer(learningRate, 0.9, 0.999);
}
