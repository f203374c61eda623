// Where Keras Applications publishes its ImageNet weight files.
import type { KerasWeightFile } from './arch-spec.js';

const BASE_URL = 'https://storage.googleapis.com/tensorflow/keras-applications/';

/** The with-top and no-top files of a Keras Applications model, as `keras.utils.get_file` names them. */
export function kerasApplicationsWeights(
  folder: string,
  stem: string,
  md5: { top: string; notop: string },
): { top: KerasWeightFile; notop: KerasWeightFile } {
  const file = (suffix: string) => `${stem}_weights_tf_dim_ordering_tf_kernels${suffix}.h5`;
  const entry = (name: string, hash: string): KerasWeightFile => ({ file: name, url: `${BASE_URL}${folder}/${name}`, md5: hash });
  return { top: entry(file(''), md5.top), notop: entry(file('_notop'), md5.notop) };
}
