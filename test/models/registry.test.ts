// The registry finds every architecture pipeline.json names through the explicit family list.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getArchitecture, listArchitectureNames } from '../../stages/models/registry.js';
import { preprocess, preprocessPixelsInPlace } from '../../stages/models/preprocessing.js';

const workspace = path.resolve(import.meta.dirname, '../..');

test('every architecture pipeline.json uses resolves, with its Keras facts', async () => {
  const pipeline = JSON.parse(readFileSync(path.join(workspace, 'pipeline.json'), 'utf8')) as {
    vars?: Record<string, unknown>;
    stages: Array<{ id: string; matrix?: { arch?: string[] | string; include?: Array<{ arch: string }> } }>;
  };
  // An axis may be "${vars.x}": the list kept in vars.
  const axis = (arch: string[] | string | undefined): string[] => {
    if (typeof arch !== 'string') return arch ?? [];
    const list = pipeline.vars?.[/^\$\{vars\.(.+)\}$/.exec(arch)?.[1] ?? ''];
    assert.ok(Array.isArray(list), `matrix axis ${arch} names a list in vars`);
    return list as string[];
  };
  const names = new Set<string>();
  for (const stage of pipeline.stages) {
    axis(stage.matrix?.arch).forEach((a) => names.add(a));
    stage.matrix?.include?.forEach((m) => names.add(m.arch));
  }
  assert.ok(names.size >= 2);
  for (const name of names) assert.is((await getArchitecture(name)).name, name);

  const expected: Record<string, [string, number, string]> = {
    vgg16: ['VGG16', 224, 'caffe'],
    vgg19: ['VGG19', 224, 'caffe'],
    resnet50: ['ResNet50', 224, 'caffe'],
    inception_v3: ['InceptionV3', 299, 'tf'],
    xception: ['Xception', 299, 'tf'],
    densenet121: ['DenseNet121', 224, 'torch'],
    densenet169: ['DenseNet169', 224, 'torch'],
    densenet201: ['DenseNet201', 224, 'torch'],
  };
  for (const [name, [kerasName, size, mode]] of Object.entries(expected)) {
    const spec = await getArchitecture(name);
    assert.equal([spec.kerasName, spec.defaultInputSize, spec.preprocessing], [kerasName, size, mode], name);
    assert.match(spec.imagenet!.notop.file, `${name}_weights_tf_dim_ordering_tf_kernels_notop.h5`);
    assert.match(spec.imagenet!.top.url, /^https:\/\/storage\.googleapis\.com\/tensorflow\/keras-applications\/.+_kernels\.h5$/);
    assert.match(spec.imagenet!.notop.md5!, /^[0-9a-f]{32}$/);
  }
  assert.equal((await getArchitecture('mobilenet_v1_0.25')).builtinWeights?.dir, 'data/weights/mobilenet_v1_0.25_224');
});

test('listing finds the four MobileNet widths, the small CNN and the eight', async () => {
  const names = await listArchitectureNames();
  for (const n of ['mobilenet_v1_0.25', 'mobilenet_v1_0.5', 'mobilenet_v1_0.75', 'mobilenet_v1_1.0', 'small_cnn', 'densenet201', 'xception']) {
    assert.ok(names.includes(n), n);
  }
  assert.is(names.length, 13);
});

test('an unknown architecture is refused with the known names', async () => {
  try {
    await getArchitecture('resnet51');
    assert.unreachable('should throw');
  } catch (error) {
    assert.match((error as Error).message, /unknown architecture "resnet51" \(known: .*resnet50.*\)/);
  }
});

test('preprocessing modes match Keras', async () => {
  await tf.setBackend('cpu');
  const rgb = tf.tensor4d([10, 20, 30, 255, 0, 127.5], [1, 1, 2, 3]);
  const values = (mode: 'caffe' | 'tf' | 'torch') => Array.from(preprocess(rgb, mode).dataSync());
  const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) < 1e-4);
  assert.ok(close(values('caffe'), [30 - 103.939, 20 - 116.779, 10 - 123.68, 127.5 - 103.939, 0 - 116.779, 255 - 123.68]));
  assert.ok(close(values('tf'), [10 / 127.5 - 1, 20 / 127.5 - 1, 30 / 127.5 - 1, 1, -1, 0]));
  const torch = (v: number, c: number) => (v / 255 - [0.485, 0.456, 0.406][c]!) / [0.229, 0.224, 0.225][c]!;
  assert.ok(close(values('torch'), [torch(10, 0), torch(20, 1), torch(30, 2), torch(255, 0), torch(0, 1), torch(127.5, 2)]));
  for (const mode of ['caffe', 'tf', 'torch'] as const) {
    const pixels = preprocessPixelsInPlace(Float32Array.from([10, 20, 30, 255, 0, 127.5]), mode);
    assert.ok(close(Array.from(pixels), values(mode)), `pixel path agrees for ${mode}`);
  }
  assert.throws(() => preprocess(rgb, 'imagenet' as 'tf'), /unknown preprocessing mode "imagenet"/);
});

test.run();
