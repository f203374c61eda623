// Does averaging a model's predictions over flipped and transposed copies of each cell (test-time
// augmentation over the square's symmetries) help on other sources? Evaluates the given trained models on
// the PBC test split and every shifted/foreign set, each cell as is, over its 4 flips, and over all 8
// symmetries; prints accuracy / balanced accuracy per source. The flips are done on the pixel arrays.
//
//   node --import tsx bench/test-time-flips.ts [model folder…]   (default: the default run's MobileNet models)
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { initBackend } from '../stages/tf/backend.js';
import { loadModelFromDirectory } from '../stages/lib/classifier/model-directory.js';
import { imagesToTensor } from '../stages/lib/classifier/preprocessing.js';
import { locateTrainedModel } from '../stages/lib/classifier/train-record.js';
import { evaluationItems, modelInputs } from './evaluation-set.js';

const stagesDir = 'artifacts/stages';
const folders = process.argv.length > 2
  ? process.argv.slice(2)
  : ['transfer', 'finetune', 'ensemble'].map((mode) => join(stagesDir, `${mode === 'ensemble' ? 'ensemble' : 'train'}[arch=mobilenet_v1_0.25,mode=${mode}]`));
await initBackend({ prefer: 'auto' });

const items = evaluationItems(stagesDir);

/** The square image under a symmetry: mirror in x, mirror in y, then swap the axes. */
function symmetry(img: Uint8Array, n: number, flipX: boolean, flipY: boolean, transpose: boolean): Uint8Array {
  const out = new Uint8Array(img.length);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    let sx = flipX ? n - 1 - x : x, sy = flipY ? n - 1 - y : y;
    if (transpose) [sx, sy] = [sy, sx];
    out.set(img.subarray(3 * (sy * n + sx), 3 * (sy * n + sx) + 3), 3 * (y * n + x));
  }
  return out;
}
const SYMMETRIES = [0, 1, 2, 3, 4, 5, 6, 7].map((b) => [!!(b & 1), !!(b & 2), !!(b & 4)] as const);
const SCHEMES = { 'as is': [0], '4 flips': [0, 1, 2, 3], '8 symmetries': [0, 1, 2, 3, 4, 5, 6, 7] };

const sources = [...new Set(items.map((i) => i.source))];
console.log(`| model | test-time copies | ${sources.join(' | ')} |`);
console.log(`|---|---|${sources.map(() => '---|').join('')}`);
for (const folder of folders) {
  const { modelDir, record } = locateTrainedModel(folder);
  const model = await loadModelFromDirectory(modelDir);
  const n = record.inputSize;
  const inputs = await modelInputs(items, record);
  // probabilities[s][i]: symmetry s of item i.
  const probabilities: number[][][] = [];
  for (const [flipX, flipY, transpose] of SYMMETRIES) {
    const out: number[][] = [];
    for (let s = 0; s < inputs.length; s += 32) {
      const x = imagesToTensor(inputs.slice(s, s + 32).map((img) => symmetry(img, n, flipX, flipY, transpose)), n, record.preprocessing);
      const y = model.predict(x) as tf.Tensor;
      out.push(...((await y.array()) as number[][]));
      tf.dispose([x, y]);
    }
    probabilities.push(out);
  }
  for (const [scheme, used] of Object.entries(SCHEMES)) {
    const cells = sources.map((source) => {
      const recall = new Map<string, [number, number]>();
      let correct = 0, total = 0;
      items.forEach((it, i) => {
        if (it.source !== source) return;
        const sum = record.classes.map((_, c) => used.reduce((a, s) => a + probabilities[s]![i]![c]!, 0));
        const ok = record.classes[sum.indexOf(Math.max(...sum))] === it.truth;
        const r = recall.get(it.truth) ?? [0, 0];
        recall.set(it.truth, [r[0] + (ok ? 1 : 0), r[1] + 1]);
        correct += ok ? 1 : 0;
        total++;
      });
      const balanced = [...recall.values()].reduce((a, [k, m]) => a + k / m, 0) / recall.size;
      return `${((100 * correct) / total).toFixed(1)} / ${(100 * balanced).toFixed(1)}`;
    });
    console.log(`| ${folder.split('/').pop()} | ${scheme} | ${cells.join(' | ')} |`);
  }
}
