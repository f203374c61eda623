// Keras Applications input preprocessing. Every architecture was trained on ImageNet with one of
// three conventions; feeding another one silently ruins transfer accuracy.
import * as tf from '@tensorflow/tfjs';

/**
 * - `caffe`: RGB→BGR, then minus the ImageNet BGR mean [103.939, 116.779, 123.68] (no scaling).
 * - `tf`: x / 127.5 − 1, i.e. [−1, 1].
 * - `torch`: x / 255, then minus ImageNet mean [0.485, 0.456, 0.406], divided by std [0.229, 0.224, 0.225].
 */
export type PreprocessingMode = 'caffe' | 'tf' | 'torch';

export const PREPROCESSING_MODES: readonly PreprocessingMode[] = ['caffe', 'tf', 'torch'];

const CAFFE_BGR_MEAN = [103.939, 116.779, 123.68] as const;
const TORCH_RGB_MEAN = [0.485, 0.456, 0.406] as const;
const TORCH_RGB_STD = [0.229, 0.224, 0.225] as const;

/** Per-channel affine map in output channel order: out[c] = in[source[c]] * scale[c] + offset[c]. */
interface ChannelAffine {
  source: [number, number, number];
  scale: [number, number, number];
  offset: [number, number, number];
}

function affineFor(mode: PreprocessingMode): ChannelAffine {
  switch (mode) {
    case 'caffe':
      return { source: [2, 1, 0], scale: [1, 1, 1], offset: [-CAFFE_BGR_MEAN[0], -CAFFE_BGR_MEAN[1], -CAFFE_BGR_MEAN[2]] };
    case 'tf':
      return { source: [0, 1, 2], scale: [1 / 127.5, 1 / 127.5, 1 / 127.5], offset: [-1, -1, -1] };
    case 'torch': {
      const scale = TORCH_RGB_STD.map((s) => 1 / (255 * s)) as [number, number, number];
      const offset = TORCH_RGB_MEAN.map((m, c) => -m / TORCH_RGB_STD[c]!) as [number, number, number];
      return { source: [0, 1, 2], scale, offset };
    }
    default:
      throw new Error(`unknown preprocessing mode ${JSON.stringify(mode)} (known: ${PREPROCESSING_MODES.join(', ')})`);
  }
}

/**
 * Preprocesses RGB pixels in [0, 255] (any rank, channels last, 3 channels) for a Keras
 * ImageNet model. Returns a new float32 tensor; the input is not disposed.
 */
export function preprocess(images: tf.Tensor, mode: PreprocessingMode): tf.Tensor {
  const { source, scale, offset } = affineFor(mode);
  const channels = images.shape[images.shape.length - 1];
  if (channels !== 3) throw new Error(`preprocess: expected 3 RGB channels last, got shape [${images.shape.join(', ')}]`);
  return tf.tidy(() => {
    const x = images.toFloat();
    const reordered = source[0] === 0 ? x : tf.reverse(x, -1);
    return reordered.mul(tf.tensor1d(scale)).add(tf.tensor1d(offset));
  });
}

/** The same map on interleaved RGB pixels (HWC), in place; for code that handles raw buffers. */
export function preprocessPixelsInPlace(pixels: Float32Array, mode: PreprocessingMode): Float32Array {
  const { source, scale, offset } = affineFor(mode);
  if (pixels.length % 3 !== 0) throw new Error(`preprocessPixelsInPlace: length ${pixels.length} is not a multiple of 3`);
  for (let i = 0; i < pixels.length; i += 3) {
    const rgb = [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!];
    for (let c = 0; c < 3; c++) pixels[i + c] = rgb[source[c]!]! * scale[c]! + offset[c]!;
  }
  return pixels;
}
