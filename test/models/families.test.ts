// families.ts is the one list of architecture families: each family it names is a file here whose
// architectures all build, every family file is listed, and an unknown name is refused naming the known ones.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FAMILIES } from '../../stages/models/families.js';
import { getArchitecture, listArchitectureNames } from '../../stages/models/registry.js';

const modelsDir = path.resolve(import.meta.dirname, '../../stages/models');

test('every family file exporting architectures is listed, under its own file name', () => {
  const listed = FAMILIES.map((f) => f.file).sort();
  const files = readdirSync(modelsDir).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
  for (const file of listed) assert.ok(files.includes(file), `${file}.ts exists`);
  for (const family of FAMILIES) {
    assert.ok(family.architectures.length > 0, `${family.file} lists architectures`);
    for (const spec of family.architectures) assert.is(spec.family, family.file, spec.name);
  }
  assert.equal(new Set(listed).size, listed.length, 'no family listed twice');
});

test('every architecture of every family builds at its smallest input, without its head', async () => {
  await tf.setBackend('cpu');
  for (const family of FAMILIES) {
    for (const spec of family.architectures) {
      const size = spec.minInputSize;
      // Zeros: random initialisation of VGG's 138 M values would dominate the test's time.
      const model = spec.build([size, size, 3], { includeTop: false, initialWeights: 'zeros' });
      assert.ok(model.getLayer(spec.featureLayer), `${spec.name} has its feature layer ${spec.featureLayer}`);
      if (spec.finetuneFrom) assert.ok(model.getLayer(spec.finetuneFrom), `${spec.name} has ${spec.finetuneFrom}`);
      model.dispose();
    }
  }
});

test('the registry lists exactly the families\u2019 architectures', async () => {
  const fromFamilies = FAMILIES.flatMap((f) => f.architectures.map((s) => s.name)).sort((a, b) => a.localeCompare(b));
  assert.equal(await listArchitectureNames(), fromFamilies);
});

test('an unknown architecture names every known one and families.ts', async () => {
  const known = await listArchitectureNames();
  try {
    await getArchitecture('resnet18');
    assert.unreachable('should throw');
  } catch (error) {
    const message = (error as Error).message;
    assert.ok(message.startsWith(`unknown architecture "resnet18" (known: ${known.join(', ')})`), message);
    assert.match(message, /stages\/models\/families\.ts/);
  }
});

test.run();
