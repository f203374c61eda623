// The report's building blocks on known inputs: DAG layout, Markdown conversion, offline chart
// rendering, and the errors a malformed dep output produces.
import { test } from 'uvu';
import { tableReason } from '../../stages/lib/report/study-rows.js';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dagDepths, dagSpec } from '../../stages/lib/report/dag.js';
import { markdownToHtml } from '../../stages/lib/report/markdown-to-html.js';
import { renderVegaLite } from '../../stages/lib/report/vega-svg.js';
import { loadDag, loadReportData } from '../../stages/lib/report/load-inputs.js';
import { duration, pct, interval } from '../../stages/lib/report/format.js';
import type { DagNode, ModelResult } from '../../stages/lib/report/types.js';
import { cellPreparation, labsHtml, labsMarkdown, trainingVariants } from '../../stages/lib/report/labs-section.js';
import { sourceMetrics } from '../../stages/lib/metrics/evaluation-metrics.js';
import type { CrossLabRecord } from '../../stages/lib/records/cross-lab-record.js';
import type { RunState } from '../../pipeline/stage-api.js';
import { depsRecord, fakeDep } from '../fake-stage-context.js';

const node = (id: string, deps: string[] = []): DagNode => ({ id, label: id, deps, instances: 1, status: null, seconds: null });

test('DAG depth is the longest path from a root', () => {
  const d = dagDepths([node('segment'), node('normalize', ['segment']), node('split', ['segment', 'normalize']), node('report', ['split', 'segment'])]);
  assert.equal(Object.fromEntries(d), { segment: 0, normalize: 1, split: 2, report: 3 });
});

test('a DAG cycle is an error naming a stage on it', () => {
  assert.throws(() => dagDepths([node('a', ['b']), node('b', ['a'])]), /cycle through "(a|b)"/);
});

test('the DAG chart renders every stage with its time and status', async () => {
  const nodes = [node('segment'), { ...node('train', ['segment']), instances: 3, status: 'cached', seconds: 125 }];
  const svg = await renderVegaLite(dagSpec({ nodes, provenance: '' }));
  assert.match(svg, /^<svg role="img"/);
  assert.match(svg, />segment</);
  assert.match(svg, /×3 · 2\.1 min · cached/);
});

test('a chart that would fetch data is refused', async () => {
  let message = '';
  try {
    await renderVegaLite({ data: { url: 'https://example.org/x.json' }, mark: 'point' } as never);
  } catch (e) {
    message = (e as Error).message;
  }
  assert.match(message, /must carry their data inline/);
});

test('markdown: headings shift, HTML is escaped, tables and lists convert', () => {
  const html = markdownToHtml('# Audit\n\nA <script>x</script> **bold** and `code`.\n\n- one\n- two\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n', 2);
  assert.match(html, /<h3>Audit<\/h3>/);
  assert.match(html, /A &lt;script&gt;x&lt;\/script&gt; <strong>bold<\/strong> and <code>code<\/code>\./);
  assert.match(html, /<ul><li>one<\/li><li>two<\/li><\/ul>/);
  assert.match(html, /<thead><tr><th>a<\/th><th>b<\/th><\/tr><\/thead><tbody><tr><td>1<\/td><td>2<\/td><\/tr><\/tbody>/);
  assert.not.match(html, /<script>/);
});

test('formatting shows n/a for missing values, never NaN', () => {
  assert.is(pct(null), 'n/a');
  assert.is(pct(Number.NaN), 'n/a');
  assert.is(pct(0.9821), '98.2 %');
  assert.is(interval(null), 'n/a');
  assert.is(interval({ low: 0.9, high: 0.95, level: 0.95, method: 'wilson' }), '90.0–95.0');
  assert.is(duration(0.25), '250 ms');
  assert.is(duration(7200), '2.00 h');
});

test('without a run state the DAG comes from pipeline.json, and says so', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'leukopipe-dag-'));
  try {
    await writeFile(path.join(dir, 'pipeline.json'), JSON.stringify({ stages: [{ id: 'a' }, { id: 'b', deps: ['a', 'x[arch=${matrix.arch}]?'] }] }));
    const dag = await loadDag(dir, null, {});
    assert.equal(dag.nodes.map((n) => [n.id, n.deps, n.status, n.seconds]), [['a', [], null, null], ['b', ['a', 'x'], null, null]]);
    assert.match(dag.provenance, /without times/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('without a run state, times come from the provenance the runner hands over with each dep', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'leukopipe-dag-'));
  try {
    await writeFile(path.join(dir, 'pipeline.json'), JSON.stringify({ stages: [{ id: 'train' }, { id: 'report', deps: ['train'] }] }));
    // The runner's private files are not read, even when they are there.
    await mkdir(path.join(dir, '.pipe'));
    await writeFile(path.join(dir, '.pipe', 'current.json'), JSON.stringify({ 'train[arch=a]': { key: 'ab01' } }));
    const deps = depsRecord([
      fakeDep('train[arch=a]', dir, { key: 'ab01', created: '2026-12-03T05:00:00.000Z', seconds: 1.5 }),
      fakeDep('train[arch=b]', dir, { key: 'cd02', created: '2026-12-03T05:00:02.000Z', seconds: 2.5 }),
    ]);
    const dag = await loadDag(dir, null, deps, 'report');
    assert.equal(dag.nodes.map((n) => [n.id, n.instances, n.status, n.seconds]), [['train', 2, 'built', 4], ['report', 1, 'running', null]]);
    assert.match(dag.provenance, /direct inputs/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('with the run state the runner writes, each stage shows its status in this run and its time', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'leukopipe-dag-'));
  try {
    await writeFile(path.join(dir, 'pipeline.json'), JSON.stringify({ stages: [{ id: 'train' }, { id: 'report', deps: ['train'] }] }));
    const state: RunState = {
      runId: 'r1',
      startedAt: '2026-12-03T05:00:00.000Z',
      profile: null,
      instances: [
        { id: 'train[arch=a]', stageId: 'train', matrix: { arch: 'a' }, deps: [], status: 'ran', seconds: 3 },
        { id: 'train[arch=b]', stageId: 'train', matrix: { arch: 'b' }, deps: [], status: 'ran', seconds: 4 },
        { id: 'report', stageId: 'report', matrix: {}, deps: ['train[arch=a]', 'train[arch=b]'], status: 'running', seconds: null },
      ],
    };
    const file = path.join(dir, 'run-state.json');
    await writeFile(file, JSON.stringify(state));
    const deps = depsRecord([fakeDep('train[arch=a]', dir, { seconds: 99 }), fakeDep('train[arch=b]', dir, { seconds: 99 })]);
    const dag = await loadDag(dir, file, deps, 'report');
    assert.equal(dag.nodes.map((n) => [n.id, n.instances, n.status, n.seconds]), [['train', 2, 'ran', 7], ['report', 1, 'running', null]]);
    assert.match(dag.provenance, /run state/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a malformed metrics.json is an error naming the file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'leukopipe-bad-'));
  try {
    const evalDir = path.join(dir, 'evaluate');
    await mkdir(evalDir);
    await writeFile(path.join(evalDir, 'metrics.json'), '{"schemaVersion": 1, "classes": [');
    const deps = { 'evaluate[arch=a,mode=b]': { instanceId: 'evaluate[arch=a,mode=b]', stageId: 'evaluate', matrix: { arch: 'a', mode: 'b' }, dir: evalDir, name: 'evaluate', key: 'test-key', created: null, seconds: null } };
    let message = '';
    try {
      await loadReportData({ deps, workspace: dir, title: 't', galleryPerModel: 3 });
    } catch (e) {
      message = (e as Error).message;
    }
    assert.match(message, /evaluate\/metrics\.json: not valid JSON/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the leave-one-lab-out section says how the cells were low-passed and that it was chosen on held-out labs', () => {
  const model = (blurSigma: number | null): ModelResult => ({
    label: 'mobilenet_v1_0.25 · transfer', arch: 'mobilenet_v1_0.25', mode: 'transfer', evaluateInstance: null, trainInstance: null, metrics: null, history: [], misclassified: [], misclassifiedTotal: 0,
    train: { status: 'trained', reason: null, epochsPlanned: 1, epochsCompleted: 1, bestEpoch: 1, stoppedEarly: false, wallSeconds: 1, trainingSeconds: 1, backend: null, trainImages: 4, normalization: { method: 'reinhard', blurSigma } },
  });
  const figures = { accuracy: 0.7, balancedAccuracy: 0.7, macroF1: 0.7 };
  const record: CrossLabRecord = { status: 'evaluated', arch: 'mobilenet_v1_0.25', features: 'f', classes: ['A', 'B'], labs: ['x', 'y'], adapt: 'adabn', protocol: 'p', heldOut: [], mean: { asTrained: figures, adapted: figures }, curve: [] };
  const blurred = labsMarkdown({ labs: [], crossLab: [record] }, [model(2)]).join('\n');
  assert.match(blurred, /low-passed \(Gaussian σ 2 px, normalize\.blurSigma\).*mean balanced accuracy over the held-out labs, never chosen on one lab/);
  assert.is(cellPreparation([model(null)], 'mobilenet_v1_0.25'), null);
  assert.is(cellPreparation([model(2)], 'resnet50'), null, 'only the backbone\'s own models say how its cells were prepared');
});

test('the labs section says what the training variants were made with and that it was chosen on held-out labs', () => {
  const figures = { accuracy: 0.7, balancedAccuracy: 0.7, macroF1: 0.7 };
  const record: CrossLabRecord = { status: 'evaluated', arch: 'mobilenet_v1_0.25', features: 'f', classes: ['A', 'B'], labs: ['x', 'y'], adapt: 'adabn', protocol: 'p', heldOut: [], mean: { asTrained: figures, adapted: figures }, curve: [] };
  const augmentation = { variants: 4, seed: 1, photometric: { stain: { sigma: 0.05, bias: 0.05 }, gamma: { range: [0.7, 1.4] as [number, number], p: 0.5 }, noise: { sigma: [0, 20] as [number, number], grain: 6, p: 0.5 } }, cytoplasmLoss: null };
  const md = labsMarkdown({ labs: [], crossLab: [record], augmentation }, []).join('\n');
  assert.match(md, /variants \(4 per cell\), they were re-stained in HED space \(scale 1 ± 0\.05, bias ± 0\.05\) and given a random gamma of 0\.7–1\.4 on 50 % of them and mottled with colour blotches \(noise in each channel, of up to 20 in 255, in grains of about 6 px\) on 50 % of them; .*mean balanced accuracy over the held-out labs, never chosen on one lab/);
  assert.is(trainingVariants({ ...augmentation, photometric: null }), null);
  assert.not.match(labsMarkdown({ labs: [], crossLab: [], augmentation }, []).join('\n'), /variants/, 'no held-out figures, nothing to say it beside');
});

test('with adapt self-training the held-out rows and mean are the self-trained figures, said so, with the as-trained figure beside them', () => {
  // Ten cells of lab x: as trained 6 right, with AdaBN 7, self-trained 8.
  const metrics = (right: number) =>
    sourceMetrics('x', Array.from({ length: 10 }, (_, i) => ({ path: `c${i}.png`, source: 'x', trueClass: i % 2 ? 'A' : 'B', predictedClass: i < right ? (i % 2 ? 'A' : 'B') : i % 2 ? 'B' : 'A' })), { classes: ['A', 'B'], resamples: 20, seed: 1 });
  const [asTrained, adapted, selfTrained] = [metrics(6), metrics(7), metrics(8)];
  const mean = (m: typeof asTrained) => ({ accuracy: m.accuracy, balancedAccuracy: m.balancedAccuracy, macroF1: m.macroF1 });
  const record: CrossLabRecord = {
    status: 'evaluated', arch: 'mobilenet_v1_0.25', features: 'f', classes: ['A', 'B'], labs: ['x', 'y'], adapt: 'self-training',
    selfTraining: { rounds: 3, portion: 0.6, epochs: 5, learningRate: 1e-4 }, protocol: 'p',
    heldOut: [{ lab: 'x', trainedOn: ['y'], trainRows: 4, asTrained, adapted, selfTrained, epochs: 3 }],
    mean: { asTrained: mean(asTrained), adapted: mean(adapted), selfTrained: mean(selfTrained) }, curve: [],
  };
  const md = labsMarkdown({ labs: [], crossLab: [record] }, []).join('\n');
  assert.match(md, /## Leave one lab out \(mobilenet_v1_0\.25, after self-training on its unlabelled cells\)/);
  assert.match(md, /\| x \| 10 \| 80\.0 % \|/);
  assert.match(md, /\| mean \| \| 80\.0 % \|/);
  const html = labsHtml({ labs: [], crossLab: [record] }, [], null);
  assert.match(html, /after self-training on the held-out lab&#39;s unlabelled cells \(the head trained on its own most confident labels of that lab&#39;s cells, 3 rounds, the last taking 60 % of each predicted class; what pipe predict does to a folder\)/);
  assert.match(html, /Other figure<br><span class="ci">as trained<\/span>/);
  assert.match(html, /60\.0 %<br><span class="ci">bal\. 60\.0 %<\/span><\/td><\/tr>/);
  // With views, the lead says how many variants joined each cell.
  const withViews = labsHtml({ labs: [], crossLab: [{ ...record, selfTraining: { ...record.selfTraining!, views: 4 } }] }, [], null);
  assert.match(withViews, /60 % of each predicted class; each cell with 4 augmented variants of it, made as the training cells&#39; were, its label and its result the mean over them; what pipe predict does/);
});

test('the labelling curve says which figure its k > 0 points give, from the record, with the as-trained figure beside a self-trained one', () => {
  const figures = { accuracy: 0.7, balancedAccuracy: 0.7, macroF1: 0.7 };
  const point = (k: number, figure: 'as-trained' | 'self-trained', accuracy: number) => ({
    lab: 'x', k, added: 2 * k, figure, testN: 10, accuracy, balancedAccuracy: accuracy, macroF1: accuracy, accuracyCi: null,
    ...(figure === 'self-trained' ? { asTrained: { accuracy: 0.6, balancedAccuracy: 0.6, macroF1: 0.6 } } : {}),
  });
  const record = (figure: 'as-trained' | 'self-trained'): CrossLabRecord => ({
    status: 'evaluated', arch: 'mobilenet_v1_0.25', features: 'f', classes: ['A', 'B'], labs: ['x', 'y'], adapt: 'self-training', protocol: 'p',
    heldOut: [], mean: { asTrained: figures, adapted: figures, selfTrained: figures }, curve: [point(0, 'self-trained', 0.7), point(5, figure, 0.9)],
  });
  const selfMd = labsMarkdown({ labs: [], crossLab: [record('self-trained')] }, []).join('\n');
  assert.match(selfMd, /### Labelling curve \(accuracy on the rest of the lab; self-trained on it at every k\)/);
  assert.match(selfMd, /\| x \| 70\.0 % \(n=10\) \| 90\.0 % \(n=10\) \|/);
  const selfHtml = labsHtml({ labs: [], crossLab: [record('self-trained')] }, [], null);
  assert.match(selfHtml, /At every k, as at k = 0, the head then self-trains on the rest of the lab/);
  assert.match(selfHtml, /90\.0 %<br><span class="ci">bal\. 90\.0 %, n=10; as trained 60\.0 %<\/span>/);
  const trainedMd = labsMarkdown({ labs: [], crossLab: [record('as-trained')] }, []).join('\n');
  assert.match(trainedMd, /### Labelling curve \(accuracy on the rest of the lab; k > 0 as trained\)/);
  assert.match(labsHtml({ labs: [], crossLab: [record('as-trained')] }, [], null), /For k &gt; 0 the figure is as trained.*self-training runs at k = 0 only/);
  assert.not.match(selfHtml, /--labelled/);
  // With curveAnchors the labelled cells joined self-training too: the heading and the lead say so.
  const anchored = { ...record('self-trained'), curveAnchors: true };
  assert.match(labsMarkdown({ labs: [], crossLab: [anchored] }, []).join('\n'), /### Labelling curve \(accuracy on the rest of the lab; self-trained on it at every k, the labelled cells in every round\)/);
  assert.match(labsHtml({ labs: [], crossLab: [anchored] }, [], null), /The k labelled cells, with their classes, join every round of it, as pipe predict --labelled gives them/);
});

test('a skipped model\'s reason shows as its first clause, without the repeated "skipped:"', () => {
  const long = 'skipped: weights missing — ImageNet weights for vgg16 (VGG16) are not available offline: put vgg16_weights….h5 (md5 6d6b…) at data/weights/keras/';
  assert.is(tableReason(long), 'weights missing');
  assert.is(tableReason('model not trained'), 'model not trained');
  assert.is(tableReason(null), null);
});

test.run();
