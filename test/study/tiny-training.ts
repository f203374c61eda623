// A tiny seeded convnet and its data for training-loop tests; run as a script it trains into a state
// dir (`node --import tsx test/study/tiny-training.ts <root> <stateDir> <epochs>`) so a test can kill it.
import * as tf from '@tensorflow/tfjs';
import { imageBatchSource } from '../../stages/lib/classifier/batch-source.js';
import { seededReinitialize } from '../../stages/lib/classifier/seeded-init.js';
import { readLabelledSplit } from '../../stages/lib/classifier/split-table.js';
import { fit, type FitOptions } from '../../stages/lib/classifier/training-loop.js';
import { depsFor, TINY_CLASSES } from './tiny-images.js';

export const TINY_SIZE = 16;

/** Seeded: two builds hold identical weights. `dropout` adds an unseeded Dropout, as the study's head has. */
export function tinyModel(options: { dropout?: boolean } = {}): tf.LayersModel {
  const input = tf.input({ shape: [TINY_SIZE, TINY_SIZE, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  if (options.dropout) x = tf.layers.dropout({ rate: 0.5 }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: TINY_CLASSES.length, activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  seededReinitialize(model, 7);
  return model;
}

export function tinySources(root: string) {
  const deps = depsFor({ normalize: `${root}/normalize`, split: `${root}/split` });
  const train = readLabelledSplit(deps.split!, deps, 'train', TINY_CLASSES);
  const val = readLabelledSplit(deps.split!, deps, 'val', TINY_CLASSES);
  const opts = { classes: TINY_CLASSES.length, size: TINY_SIZE, preprocessing: 'rescale' as const };
  return { train: imageBatchSource(train, { ...opts, batchSize: 3 }), val: imageBatchSource(val, { ...opts, batchSize: 4 }) };
}

export async function trainTiny(root: string, stateDir: string, epochs: number, extra: Partial<FitOptions> = {}, dropout = false) {
  const model = tinyModel({ dropout });
  const result = await fit({ model, optimizer: tf.train.adam(0.05), ...tinySources(root), epochs, seed: 3, earlyStopping: null, stateDir, ...extra });
  return { model, result };
}

if (process.argv[1]?.endsWith('tiny-training.ts')) {
  const [root, stateDir, epochs] = process.argv.slice(2) as [string, string, string];
  await tf.setBackend('cpu');
  await trainTiny(root, stateDir, Number(epochs));
}
