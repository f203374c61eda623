// The `weights` stage: shipped weights are published as "builtin", a user's Keras file is
// md5-checked and published as "present", and anything else is "missing" with the exact message
// (which file, where to put it, its URL and md5) — without failing and without the network.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { StageContext } from '../../pipeline/stage-api.js';
import { makeContext } from '../data/context.js';
import weightsStage, { type WeightsParams } from '../../stages/weights.js';
import { getArchitecture } from '../../stages/models/registry.js';
import { writeKerasH5Weights } from '../../stages/models/keras-h5.js';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { downloadKerasWeights, loadWeightsFromStage, type WeightsRecord } from '../../stages/models/imagenet-weights.js';

const repo = path.resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'weights-stage-'));
// The Keras cache (~/.keras/models) must never be read (no key covers it): HOME points at scratch space
// holding one, to check that.
const home = path.join(scratch, 'home');
process.env.HOME = home;

function context(params: WeightsParams, workspace: string): StageContext<WeightsParams> & { warnings: string[] } {
  return { ...makeContext('weights', params, { workspace }), instanceId: `weights[arch=${params.arch}]`, matrix: { arch: params.arch } };
}

async function run(params: WeightsParams, workspace: string) {
  const ctx = context(params, workspace);
  if (weightsStage.kind !== 'whole') throw new Error('weights is a whole stage');
  await weightsStage.run(ctx);
  const record = JSON.parse(readFileSync(path.join(ctx.outDir, 'weights.json'), 'utf8')) as WeightsRecord;
  return { ctx, record };
}

function emptyWorkspace(name: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

test.before(async () => {
  await tf.setBackend('cpu');
});
test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('MobileNet α=0.25: the shipped weights are published as builtin and load into a base', async () => {
  const { ctx, record } = await run({ arch: 'mobilenet_v1_0.25' }, repo);
  assert.is(record.status, 'builtin');
  assert.is(record.file, 'weights/mobilenet_v1_0.25_224');
  assert.is(record.format, 'tfjs-manifest');
  assert.is(record.includesTop, true);
  const published = readdirSync(path.join(ctx.outDir, record.file!));
  assert.ok(published.includes('model.json') && published.includes('LICENSE') && published.includes('SOURCE.md'));
  assert.is(published.filter((f) => f.startsWith('group')).length, 55);

  const spec = await getArchitecture('mobilenet_v1_0.25');
  const base = spec.build([224, 224, 3], { includeTop: false, pooling: 'avg', initialWeights: 'zeros' });
  const report = await loadWeightsFromStage(base, spec, ctx.outDir);
  assert.is(report.loaded.length, 54, 'every base layer loaded');
  assert.equal(report.unused, ['conv_preds'], 'the head in the file is ignored');
  assert.ok(base.getLayer('conv1').getWeights()[0]!.abs().sum().dataSync()[0]! > 0);
  base.dispose();
});

test('DenseNet121 without a file: "missing" with which file, where, URL and md5; nothing else written', async () => {
  const workspace = emptyWorkspace('no-weights');
  const { ctx, record } = await run({ arch: 'densenet121' }, workspace);
  assert.is(record.status, 'missing');
  assert.is(record.file, null);
  const file = 'densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5';
  assert.match(record.message, path.join(workspace, 'data/weights/keras', file));
  assert.match(record.message, `https://storage.googleapis.com/tensorflow/keras-applications/densenet/${file}`);
  assert.match(record.message, 'md5 30ee3e1110167f948a6b9946edeeb738');
  assert.match(record.message, `ln -s ~/.keras/models/${file} data/weights/keras/`);
  assert.equal(readdirSync(ctx.outDir), ['weights.json']);
  assert.is(ctx.warnings[0], record.message);

  const spec = await getArchitecture('densenet121');
  const base = spec.build([32, 32, 3], { includeTop: false, initialWeights: 'zeros' });
  try {
    await loadWeightsFromStage(base, spec, ctx.outDir);
    assert.unreachable('should throw');
  } catch (error) {
    assert.is((error as Error).name, 'StageError');
    assert.match((error as Error).message, `weights[arch=densenet121]: ${record.message}`);
  }
  base.dispose();
});

test('a user file whose md5 differs from Keras\' is refused, naming both sums', async () => {
  const workspace = emptyWorkspace('bad-md5');
  const file = 'densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5';
  mkdirSync(path.join(workspace, 'data/weights/keras'), { recursive: true });
  writeFileSync(path.join(workspace, 'data/weights/keras', file), 'truncated download');
  const { record } = await run({ arch: 'densenet121' }, workspace);
  assert.is(record.status, 'missing');
  assert.match(record.message, /has md5 [0-9a-f]{32}, expected 30ee3e1110167f948a6b9946edeeb738/);
});

test('a Keras file in data/weights/keras/ is published as present and loads by name', async () => {
  const workspace = emptyWorkspace('user-file');
  const spec = await getArchitecture('mobilenet_v1_0.5');
  const source = spec.build([224, 224, 3], { includeTop: false });
  const file = spec.imagenet!.notop.file;
  assert.is(file, 'mobilenet_5_0_224_tf_no_top.h5');
  mkdirSync(path.join(workspace, 'data/weights/keras'), { recursive: true });
  await writeKerasH5Weights(source, path.join(workspace, 'data/weights/keras', file));

  const { ctx, record } = await run({ arch: 'mobilenet_v1_0.5' }, workspace);
  assert.is(record.status, 'present');
  assert.is(record.file, `weights/${file}`);
  assert.match(record.md5!, /^[0-9a-f]{32}$/);
  assert.ok(existsSync(path.join(ctx.outDir, record.file!)));

  const target = spec.build([224, 224, 3], { includeTop: false, initialWeights: 'zeros' });
  await loadWeightsFromStage(target, spec, ctx.outDir);
  const expected = source.getLayer('conv_pw_13').getWeights()[0]!.dataSync();
  assert.equal(target.getLayer('conv_pw_13').getWeights()[0]!.dataSync(), expected);
  source.dispose();
  target.dispose();
});

test('a file only in ~/.keras/models/ is not read (no key covers it); linked into data/weights/keras/ it is', async () => {
  const workspace = emptyWorkspace('keras-cache');
  const spec = await getArchitecture('mobilenet_v1_0.5');
  const model = spec.build([224, 224, 3], { includeTop: false, initialWeights: 'zeros' });
  const cached = path.join(home, '.keras/models', spec.imagenet!.notop.file);
  mkdirSync(path.dirname(cached), { recursive: true });
  await writeKerasH5Weights(model, cached);
  const before = await run({ arch: 'mobilenet_v1_0.5' }, workspace);
  assert.is(before.record.status, 'missing');
  assert.match(before.record.message, `ln -s ~/.keras/models/${spec.imagenet!.notop.file} data/weights/keras/`);

  mkdirSync(path.join(workspace, 'data/weights/keras'), { recursive: true });
  const linked = path.join(workspace, 'data/weights/keras', spec.imagenet!.notop.file);
  symlinkSync(cached, linked);
  const after = await run({ arch: 'mobilenet_v1_0.5' }, workspace);
  assert.is(after.record.status, 'present');
  assert.is(after.record.source, linked);
  model.dispose();
});

test('download (opt-in) checks the md5 and leaves nothing behind on a mismatch', async () => {
  // A local server stands in for storage.googleapis.com; tests never use the network.
  const body = Buffer.from('pretend HDF5 bytes');
  const server = http.createServer((req, res) => {
    if (req.url === '/w.h5') res.end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const md5 = createHash('md5').update(body).digest('hex');
  const dest = path.join(scratch, 'downloads');
  try {
    const ok = await downloadKerasWeights({ file: 'w.h5', url: `${url}/w.h5`, md5 }, dest);
    assert.is(ok.md5, md5);
    assert.equal(readFileSync(ok.path), body);

    const wrong = await downloadKerasWeights({ file: 'x.h5', url: `${url}/w.h5`, md5: '0'.repeat(32) }, dest).then(
      () => null,
      (e: Error) => e,
    );
    assert.match(String(wrong?.message), `downloading ${url}/w.h5: md5 ${md5}, expected ${'0'.repeat(32)}`);
    const missing = await downloadKerasWeights({ file: 'y.h5', url: `${url}/nope.h5`, md5 }, dest).then(() => null, (e: Error) => e);
    assert.match(String(missing?.message), 'HTTP 404');
    assert.equal(readdirSync(dest), ['w.h5'], 'failed downloads leave no file');
  } finally {
    server.close();
  }
});

test('an unknown architecture fails naming the param', async () => {
  try {
    await run({ arch: 'resnet18' }, emptyWorkspace('unknown'));
    assert.unreachable('should throw');
  } catch (error) {
    assert.match((error as Error).message, /weights\[arch=resnet18\] params\.arch: unknown architecture "resnet18"/);
  }
});

test.run();
