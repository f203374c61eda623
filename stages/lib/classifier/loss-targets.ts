// What the cross-entropy is taken against, beyond the one-hot label: class weights (a class with few
// training cells counts as much in the loss as one with many, as the labs' class mixes differ) and label
// smoothing (a little of every label's mass spread over the other classes, so the head is not pushed to
// certainties that a new lab's cells will not meet).
import * as tf from '@tensorflow/tfjs';

export interface TargetShaping {
  /** Per class (training label order): the loss weight of a cell of that class; null: all 1. */
  classWeights: number[] | null;
  /** ε of label smoothing: the target is (1 − ε)·one-hot + ε / classes; 0: none. */
  labelSmoothing: number;
}

/** Weights n / (classes · nᶜ): every class carries the same total weight (a class absent from training gets 0). */
export function balancedClassWeights(labels: readonly number[], classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const l of labels) counts[l] = (counts[l] ?? 0) + 1;
  return counts.map((c) => (c === 0 ? 0 : labels.length / (classes * c)));
}

/** The shaping a head's settings ask for, given its training labels; null when the targets stay one-hot. */
export function targetShaping(settings: { classWeights?: 'none' | 'balanced'; labelSmoothing?: number }, labels: readonly number[], classes: number): TargetShaping | null {
  const weights = settings.classWeights === 'balanced' ? balancedClassWeights(labels, classes) : null;
  const smoothing = settings.labelSmoothing ?? 0;
  return weights || smoothing > 0 ? { classWeights: weights, labelSmoothing: smoothing } : null;
}

/** The shaped targets of a batch of one-hot labels `y` [batch, classes] (a new tensor; `y` is kept). */
export function shapeTargets(y: tf.Tensor2D, shaping: TargetShaping): tf.Tensor2D {
  return tf.tidy(() => {
    const classes = y.shape[1];
    const eps = shaping.labelSmoothing;
    let t: tf.Tensor2D = eps > 0 ? y.mul(1 - eps).add(eps / classes) : y.clone();
    if (shaping.classWeights) {
      // Each row scaled by the weight of its true class, smoothed mass included.
      const rowWeight = y.matMul(tf.tensor2d(shaping.classWeights, [classes, 1]));
      t = t.mul(rowWeight);
    }
    return t;
  });
}
