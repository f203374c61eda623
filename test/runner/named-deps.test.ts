// Named deps: `deps` as alias → selector reaches the stage as ctx.dep / depList / optionalDep with each
// dep's key and provenance; a stage reads its deps by name, so renaming the producing stage changes only the selector;
// a wrong name fails naming the alias and its pipeline.json line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { disposeAll, stageModule, Workspace } from './rig.js';

const producer = stageModule('producer.ts');
// Reads its deps only by name and writes what it saw.
const consumer = stageModule('consumer.ts');


function pipeline(cellsStage: string, read = 'cells') {
  return {
    stages: [
      { id: cellsStage, module: 'stages/producer.ts', params: { value: 'normalised' }, outputs: ['value.txt'] },
      { id: 'fan', module: 'stages/producer.ts', matrix: { k: ['a', 'b'] }, params: { value: '${matrix.k}' }, outputs: ['value.txt'] },
      {
        id: 'consumer', module: 'stages/consumer.ts', params: { read },
        deps: { cells: cellsStage, many: 'fan', none: 'fan[k=zzz]?' },
        outputs: ['seen.json'],
      },
    ],
  };
}

test.after(disposeAll);

test('a stage reads deps by alias: the output, its stage, its key; several by depList; none as null', async () => {
  const ws = new Workspace({ 'pipeline.json': pipeline('normalize'), 'stages/producer.ts': producer, 'stages/consumer.ts': consumer });
  const r = await ws.pipe(['run']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const seen = JSON.parse(ws.read('artifacts/stages/consumer/seen.json'));
  const current = JSON.parse(ws.read('.pipe/current.json'));
  assert.equal({ name: seen.name, stage: seen.stage, value: seen.value }, { name: 'cells', stage: 'normalize', value: 'normalised' });
  assert.is(seen.key, current.normalize.key, 'DepOutput.key is the key the dep is stored under');
  const manifest = JSON.parse(ws.read(`artifacts/manifests/${seen.key.slice(0, 2)}/${seen.key.slice(2)}.json`));
  assert.equal([seen.created, seen.seconds], [manifest.createdAt, manifest.durationMs / 1000], 'DepOutput carries when and how long its outputs were built');
  assert.equal(seen.many, ['fan[k=a]=a', 'fan[k=b]=b']);
  assert.is(seen.none, null);
  assert.equal(seen.declared, ['cells', 'many', 'none']);
});

test('renaming the producing stage changes only the selector: the consumer reads the same value under the same alias', async () => {
  const ws = new Workspace({ 'pipeline.json': pipeline('stain-normalise'), 'stages/producer.ts': producer, 'stages/consumer.ts': consumer });
  const r = await ws.pipe(['run']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const seen = JSON.parse(ws.read('artifacts/stages/consumer/seen.json'));
  assert.equal({ name: seen.name, stage: seen.stage, value: seen.value }, { name: 'cells', stage: 'stain-normalise', value: 'normalised' });
});

test('an undeclared name fails naming the declared ones; a selector matching several fails naming the alias and its line', async () => {
  const ws = new Workspace({ 'pipeline.json': pipeline('normalize', 'normalize'), 'stages/producer.ts': producer, 'stages/consumer.ts': consumer });
  const r = await ws.pipe(['run']);
  assert.is.not(r.code, 0);
  assert.match(r.stdout + r.stderr, /no dep named "normalize" \(this stage declares: cells, many, none\)/);
  ws.write('pipeline.json', pipeline('normalize', 'many'));
  const r2 = await ws.pipe(['run']);
  assert.is.not(r2.code, 0);
  assert.match(r2.stdout + r2.stderr, /pipeline\.json:\d+:\d+: dep "many" \(fan\) matched 2 instances \(fan\[k=a\], fan\[k=b\]\)/);
});

test('renaming an alias reruns the consumer (names are part of its key); a bad selector names deps.<alias> and its line', async () => {
  const ws = new Workspace({ 'pipeline.json': pipeline('normalize'), 'stages/producer.ts': producer, 'stages/consumer.ts': consumer });
  assert.is((await ws.pipe(['run'])).code, 0);
  const before = JSON.parse(ws.read('.pipe/current.json')).consumer.key;
  const renamed = pipeline('normalize', 'stain');
  (renamed.stages[2]!.deps as Record<string, string>) = { stain: 'normalize', many: 'fan', none: 'fan[k=zzz]?' };
  ws.write('pipeline.json', renamed);
  const r = await ws.pipe(['run']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is.not(JSON.parse(ws.read('.pipe/current.json')).consumer.key, before);
  assert.is(JSON.parse(ws.read('artifacts/stages/consumer/seen.json')).name, 'stain');
  (renamed.stages[2]!.deps as Record<string, string>) = { stain: 'normalize[', many: 'fan', none: 'fan[k=zzz]?' };
  ws.write('pipeline.json', renamed);
  const bad = await ws.pipe(['run']);
  assert.is.not(bad.code, 0);
  assert.match(bad.stdout + bad.stderr, /pipeline\.json:\d+:\d+: .*deps\.stain|pipeline\.json:\d+:\d+:.*stain/);
});

test.run();
