// Pixel preprocessing between the 8-bit RGB cell image and the network input: the Keras Applications
// modes of the model zoo, plus `rescale` (x/255), which the original study used for every architecture.
import * as tf from '@tensorflow/tfjs';
import { PREPROCESSING_MODES as KERAS_MODES, preprocessPixelsInPlace, type PreprocessingMode } from '../../models/preprocessing.js';

export type Preprocessing = PreprocessingMode | 'rescale';
export const PREPROCESSING_MODES: readonly Preprocessing[] = ['rescale', ...KERAS_MODES];

export function assertPreprocessing(value: unknown, subject: string): Preprocessing {
  if (typeof value === 'string' && (PREPROCESSING_MODES as readonly string[]).includes(value)) return value as Preprocessing;
  throw new Error(`${subject}: preprocessing must be one of ${PREPROCESSING_MODES.join(', ')}, got ${JSON.stringify(value)}`);
}

/** A [n, size, size, 3] float tensor from n RGB buffers of size×size pixels. */
export function imagesToTensor(images: readonly Uint8Array[], size: number, mode: Preprocessing): tf.Tensor4D {
  const pixels = size * size * 3;
  const out = new Float32Array(images.length * pixels);
  images.forEach((rgb, i) => {
    if (rgb.length !== pixels) throw new Error(`image ${i}: expected ${size}×${size}×3 bytes, got ${rgb.length}`);
    out.set(rgb, i * pixels);
  });
  if (mode === 'rescale') for (let i = 0; i < out.length; i++) out[i] = out[i]! / 255;
  else preprocessPixelsInPlace(out, mode);
  return tf.tensor4d(out, [images.length, size, size, 3]);
}
