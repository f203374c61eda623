// A seeded initialisation of any model: tfjs initialisers inside the model zoo are unseeded, and two
// processes must be able to build the same random network (smoke runs, reproducible scratch training).
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../random.js';

/** Replaces every kernel with seeded Glorot-uniform values and every bias with zeros. */
export function seededReinitialize(model: tf.LayersModel, seed: number): void {
  const random = mulberry32(seed);
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    const fresh = layer.weights.map((variable, i) => {
      const current = weights[i]!;
      const name = variable.originalName;
      if (/kernel$/.test(name)) {
        const shape = current.shape;
        const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
        const fanIn = receptive * (shape[shape.length - 2] ?? 1);
        const fanOut = receptive * (shape[shape.length - 1] ?? 1);
        const limit = Math.sqrt(6 / (fanIn + fanOut));
        const values = new Float32Array(current.size);
        for (let k = 0; k < values.length; k++) values[k] = (random() * 2 - 1) * limit;
        return tf.tensor(values, shape);
      }
      if (/bias$/.test(name)) return tf.zerosLike(current);
      return current.clone(); // BatchNorm's initial gamma/beta/mean/variance are constants already
    });
    layer.setWeights(fresh);
    tf.dispose(fresh); // getWeights() returns the live variables: never dispose those
  }
}
