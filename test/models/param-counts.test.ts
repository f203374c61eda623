// Every architecture has exactly Keras' `count_params` (BN moving statistics included), with and
// without the 1000-class head. Built with zero initial weights: counts do not depend on them, and
// randomising ~200 M values would take minutes on a shared CPU.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { getArchitecture } from '../../stages/models/registry.js';

/** [arch, no top, with top], from the Keras Applications models. */
const KERAS_COUNTS: Array<[string, number, number]> = [
  ['resnet50', 23_587_712, 25_636_712],
  ['inception_v3', 21_802_784, 23_851_784],
  ['xception', 20_861_480, 22_910_480],
  ['densenet121', 7_037_504, 8_062_504],
  ['densenet169', 12_642_880, 14_307_880],
  ['densenet201', 18_321_984, 20_242_984],
  ['vgg16', 14_714_688, 138_357_544],
  ['vgg19', 20_024_384, 143_667_240],
  ['mobilenet_v1_1.0', 3_228_864, 4_253_864],
];

test.before(async () => {
  await tf.setBackend('cpu');
});

for (const [arch, noTop, withTop] of KERAS_COUNTS) {
  test(`${arch}: ${noTop.toLocaleString('en')} without top, ${withTop.toLocaleString('en')} with top`, async () => {
    const spec = await getArchitecture(arch);
    const size = spec.defaultInputSize;
    const base = spec.build([size, size, 3], { includeTop: false, initialWeights: 'zeros' });
    assert.is(base.countParams(), noTop);
    base.dispose();
    const full = spec.build([size, size, 3], { initialWeights: 'zeros' });
    assert.is(full.countParams(), withTop);
    assert.equal(full.outputs[0]!.shape, [null, 1000]);
    full.dispose();
  });
}

test('MobileNet α=0.25 at 224 with top has 475,544 values (the shipped weights)', async () => {
  const model = (await getArchitecture('mobilenet_v1_0.25')).build([224, 224, 3]);
  assert.is(model.countParams(), 475_544);
  model.dispose();
});

test('BN details that change counts: InceptionV3 BN has no gamma; epsilons; conv biases', async () => {
  const inception = (await getArchitecture('inception_v3')).build([75, 75, 3], { includeTop: false });
  const bn = inception.getLayer('batch_normalization');
  assert.equal(bn.weights.map((w) => w.originalName.split('/').pop()), ['beta', 'moving_mean', 'moving_variance']);
  assert.is(inception.getLayer('conv2d').weights.length, 1, 'InceptionV3 convs have no bias');
  assert.is((bn.getConfig() as { epsilon: number }).epsilon, 1e-3);
  inception.dispose();
  const resnet = (await getArchitecture('resnet50')).build([32, 32, 3], { includeTop: false });
  assert.is(resnet.getLayer('conv1_conv').weights.length, 2, 'ResNet50 convs have biases');
  assert.is((resnet.getLayer('conv1_bn').getConfig() as { epsilon: number }).epsilon, 1.001e-5);
  resnet.dispose();
  const densenet = (await getArchitecture('densenet121')).build([32, 32, 3], { includeTop: false });
  assert.is(densenet.getLayer('conv1/conv').weights.length, 1, 'DenseNet convs have no bias');
  assert.is((densenet.getLayer('conv1/bn').getConfig() as { epsilon: number }).epsilon, 1.001e-5);
  densenet.dispose();
  const xception = (await getArchitecture('xception')).build([71, 71, 3], { includeTop: false });
  assert.is(xception.getLayer('block2_sepconv1').weights.length, 2, 'Xception separable convs: depthwise + pointwise, no bias');
  xception.dispose();
});

test('classes, pooling and feature layer options shape the output', async () => {
  const spec = await getArchitecture('densenet121');
  const head4 = spec.build([64, 64, 3], { classes: 4 });
  assert.equal(head4.outputs[0]!.shape, [null, 4]);
  assert.is(head4.countParams(), 7_037_504 + 1024 * 4 + 4);
  head4.dispose();
  const pooled = spec.build([64, 64, 3], { includeTop: false, pooling: 'max' });
  assert.equal(pooled.outputs[0]!.shape, [null, 1024]);
  assert.is(pooled.layers[pooled.layers.length - 2]!.name, spec.featureLayer);
  pooled.dispose();
  const map = spec.build([64, 64, 3], { includeTop: false });
  assert.equal(map.outputs[0]!.shape, [null, 2, 2, 1024]);
  assert.is(map.layers[map.layers.length - 1]!.name, spec.featureLayer);
  map.dispose();
});

test("initialWeights 'zeros' skips random kernels; the default randomises them", async () => {
  const spec = await getArchitecture('small_cnn');
  const zeros = spec.build([32, 32, 3], { initialWeights: 'zeros' });
  const random = spec.build([32, 32, 3]);
  const absSum = (m: tf.LayersModel) => m.getLayer('block2_conv').getWeights()[0]!.abs().sum().dataSync()[0]!;
  assert.is(absSum(zeros), 0);
  assert.ok(absSum(random) > 0);
  zeros.dispose();
  random.dispose();
});

test('inputs below the minimum size are refused with the architecture and the limit', async () => {
  const spec = await getArchitecture('inception_v3');
  assert.throws(() => spec.build([74, 74, 3]), /InceptionV3: input must be at least 75x75, got 74x74/);
  assert.throws(() => spec.build([299, 299, 1]), /3 channels/);
});

test.run();
