// The fine-tune's kept bottom outputs: an image's output served from memory in a later epoch (in another
// batch, at another place) is the same bits as the bottom computed on it afresh, with or without room.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initBackend } from '../../stages/tf/backend.js';
import { getArchitecture } from '../../stages/models/registry.js';
import { buildPooledBase } from '../../stages/lib/classifier/base-model.js';
import { layerBefore, splitModel } from '../../stages/lib/classifier/graph-surgery.js';
import { imagesToTensor } from '../../stages/lib/classifier/preprocessing.js';
import { readImageRgb } from '../../stages/lib/classifier/read-image.js';
import { BottomOutputCache, frozenBottomSource } from '../../stages/lib/classifier/frozen-bottom-source.js';
import { tempDir, tinyCellPng, TINY_CLASSES } from './tiny-images.js';

const SIZE = 32;

test('kept bottom outputs equal the bottom computed afresh, bit for bit, whatever the batch', async () => {
  await initBackend({ prefer: 'wasm', quiet: true });
  const spec = await getArchitecture('mobilenet_v1_0.25');
  const { model } = await buildPooledBase(spec, SIZE, 'random', { weightsDir: null, seed: 3, levels: 3 });
  const { bottom } = splitModel(model, layerBefore(model, spec.finetuneFrom!));
  assert.ok((bottom.outputs as tf.SymbolicTensor[]).length > 1, 'the pyramid taps cross the cut too');
  const dir = await tempDir('bottom');
  const items = [];
  for (let i = 0; i < 10; i++) {
    const path = join(dir, `c${i}.png`);
    await writeFile(path, await tinyCellPng(TINY_CLASSES[i % 2]!, 40 + i, SIZE));
    items.push({ path, label: i % 2 });
  }
  // Every image alone through the bottom: the reference.
  const alone = new Map<string, Float32Array[]>();
  for (const it of items) {
    const x = imagesToTensor([await readImageRgb(it.path, SIZE)], SIZE, spec.preprocessing);
    const out = bottom.predict(x) as tf.Tensor[];
    alone.set(it.path, out.map((t) => t.dataSync() as Float32Array));
    tf.dispose([x, ...out]);
  }
  const labelOf = (y: tf.Tensor2D) => (y.argMax(-1).dataSync() as Int32Array);
  for (const budget of [2 ** 30, 0]) {
    const cache = new BottomOutputCache(budget);
    const source = frozenBottomSource(items, { batchSize: 4, classes: 2, size: SIZE, preprocessing: spec.preprocessing, bottom, cache });
    for (const seed of [1, 2, null]) {
      let seen = 0;
      for await (const batch of source.batches(seed)) {
        const xs = batch.x as tf.Tensor[];
        const labels = labelOf(batch.y);
        // Which image each row is: the one whose reference matches; every row must match one exactly.
        for (let r = 0; r < batch.size; r++) {
          const rows = xs.map((t) => { const per = t.size / batch.size; return (t.dataSync() as Float32Array).slice(r * per, (r + 1) * per); });
          const match = [...alone.entries()].find(([, ref]) => ref.every((v, o) => Buffer.from(v.buffer).equals(Buffer.from(rows[o]!.buffer))));
          assert.ok(match, `budget ${budget}, seed ${seed}: row ${r} equals no image's own output`);
          assert.is(items.find((it) => it.path === match![0])!.label, labels[r]);
          seen++;
        }
        tf.dispose([batch.x, batch.y]);
      }
      assert.is(seen, items.length);
    }
    assert.is(cache.images, budget ? items.length : 0);
    assert.is(cache.overflow > 0, budget === 0);
  }
});

test('with sizeOf, each batch ends with its cells\' sizes, row for row, kept outputs or not', async () => {
  await initBackend({ prefer: 'wasm', quiet: true });
  const spec = await getArchitecture('mobilenet_v1_0.25');
  const { model } = await buildPooledBase(spec, SIZE, 'random', { weightsDir: null, seed: 3, levels: 3 });
  const { bottom } = splitModel(model, layerBefore(model, spec.finetuneFrom!));
  const outputs = (bottom.outputs as tf.SymbolicTensor[]).length;
  const dir = await tempDir('bottom-sizes');
  const items: { path: string; label: number; size: number }[] = [];
  for (let i = 0; i < 6; i++) {
    const path = join(dir, `c${i}.png`);
    await writeFile(path, await tinyCellPng(TINY_CLASSES[i % 2]!, 40 + i, SIZE));
    items.push({ path, label: i % 2, size: i / 10 - 0.2 });
  }
  for (const budget of [2 ** 30, 0]) {
    const source = frozenBottomSource(items, { batchSize: 4, classes: 2, size: SIZE, preprocessing: spec.preprocessing, bottom, cache: new BottomOutputCache(budget), sizeOf: (it) => it.size });
    for (const pass of [1, 2]) {
      const sizes: number[] = [];
      for await (const batch of source.batches(null)) {
        const xs = batch.x as tf.Tensor[];
        assert.is(xs.length, outputs + 1, `budget ${budget}, pass ${pass}: the bottom's outputs and the sizes`);
        assert.equal(xs[outputs]!.shape, [batch.size, 1]);
        sizes.push(...(xs[outputs]!.dataSync() as Float32Array));
        tf.dispose([...xs, batch.y]);
      }
      assert.equal(sizes.map((v) => Math.round(v * 1e6) / 1e6), items.map((it) => Math.round(Math.fround(it.size) * 1e6) / 1e6));
    }
  }
});

test.run();
