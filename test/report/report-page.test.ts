// Builds a report from synthetic stage outputs through the real report stage, then opens it in
// headless Chromium over file:// and checks what a reader would see.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { Ajv } from 'ajv';
import reportStage from '../../stages/report.js';
import { fakeStageContext } from '../fake-stage-context.js';
import type { StageContext } from '../../pipeline/stage-api.js';
import type { ReportParams } from '../../stages/report.js';
import type { StudyMetrics } from '../../stages/lib/report/study-metrics.js';
import { writeSyntheticStudy, SHIFTED, type SyntheticStudy } from './synthetic-study.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let study: SyntheticStudy;
let outDir: string;
let browser: BrowserContext | undefined;
let userDataDir: string;
const warnings: string[] = [];

test.before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}; install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);
  study = await writeSyntheticStudy();
  outDir = path.join(study.root, 'out');
  await mkdir(outDir);
  const ctx: StageContext<ReportParams> = fakeStageContext({
    instanceId: 'report',
    stageId: 'report',
    matrix: {},
    params: { title: 'Synthetic study', galleryPerModel: 5 },
    workspace: study.workspace,
    outDir,
    stateDir: path.join(study.root, 'state'),
    inputs: [],
    deps: study.deps,
    resources: { gpu: [], cpu: 1 },
    // As `pipe run` hands it over: the report draws each stage's status in this run from it.
    runStateFile: study.runStateFile,
    signal: new AbortController().signal,
    log: () => {},
    warn: (m) => warnings.push(m),
    progress: () => {},
  });
  if (reportStage.kind !== 'whole') throw new Error('report must be a whole stage');
  await reportStage.run(ctx);
  userDataDir = await mkdtemp(path.join(os.tmpdir(), 'leukopipe-chromium-'));
});

test.after(async () => {
  await browser?.close();
  if (study) await rm(study.root, { recursive: true, force: true });
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

test('writes index.html, REPORT.md and metrics.json', async () => {
  for (const f of ['index.html', 'REPORT.md', 'metrics.json']) assert.ok(existsSync(path.join(outDir, f)), f);
  const md = await readFile(path.join(outDir, 'REPORT.md'), 'utf8');
  assert.match(md, /\| densenet121 \| transfer \| \d+\.\d %/);
  // The finetune model's kept epoch (2nd of phase 2, after 3 transfer epochs) is epoch 5 on the curves.
  assert.match(md, /\| mobilenet_v1_0\.25 \| finetune \| [^\n]* \| 6 \(best 5\) \|/);
  assert.match(md, /vgg16 \(skipped: /);
  assert.match(md, /## Cross-source robustness/);
  assert.match(md, /\| split \| .* \| 1 \| ran \| 1\.2 s \|/);
});

test('metrics.json holds every model and validates against the schema', async () => {
  const metrics = JSON.parse(await readFile(path.join(outDir, 'metrics.json'), 'utf8')) as StudyMetrics;
  const schema = JSON.parse(await readFile(path.resolve('schemas/metrics.schema.json'), 'utf8'));
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  assert.ok(validate(metrics), JSON.stringify(validate.errors?.slice(0, 3)));
  for (const model of Object.values(metrics.models)) assert.ok(validate(model), JSON.stringify(validate.errors?.slice(0, 3)));
  assert.equal(new Set(metrics.rows.map((r) => r.label)), new Set(study.labels));
  const dn = metrics.rows.find((r) => r.label === 'densenet121 · transfer');
  assert.ok(dn && dn.accuracy !== null);
  assert.is(dn.accuracy, metrics.models['densenet121 · transfer']?.test?.accuracy);
  assert.equal(Object.keys(dn.shifted).sort(), [...SHIFTED].sort());
  const skipped = metrics.rows.find((r) => r.label === 'vgg16 · scratch');
  assert.is(skipped?.status, 'skipped');
  assert.is(skipped?.accuracy, null);
});

test('the page loads offline in Chromium with no console errors and shows the table and every chart', async () => {
  // A fresh profile dir per run (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') errors.push(`${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  const url = `file://${path.join(outDir, 'index.html')}`;
  await page.goto(url, { waitUntil: 'load' });

  assert.equal(errors, []);
  assert.equal(requests.filter((u) => u !== url && !u.startsWith('data:')), [], 'no request other than the page itself');

  const rows = await page.$$eval('#study-table tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-model')));
  assert.equal(new Set(rows), new Set(study.labels));
  assert.is(rows.length, study.labels.length);
  const skipped = await page.$eval('#study-table tr[data-model="vgg16 · scratch"]', (tr) => tr.className);
  assert.is(skipped, 'skipped');
  const original = await page.$eval('#study-table tr[data-model="densenet121 · transfer"] td:last-child', (td) => td.textContent?.trim());
  assert.is(original, '98.0 %', 'DenseNet121 transfer: the thesis table 5.2 mean (97.95 %)');
  const perClass = await page.$$eval('#original-transfer tbody tr[data-arch="resnet50"] td', (tds) => tds.map((td) => td.textContent?.trim()));
  assert.equal(perClass, ['ResNet50', '38.2 %', '82.7 %', '40.9 %', '23.6 %', '46.4 %'], 'the thesis table per class');

  const charts = await page.$$eval('figure.chart[data-chart]', (figs) => figs.map((f) => ({ id: f.getAttribute('data-chart'), svg: !!f.querySelector('svg'), marks: f.querySelectorAll('svg path, svg rect, svg line, svg text').length })));
  const ids = charts.map((c) => c.id);
  for (const id of ['study-accuracy', 'cross-source', 'per-class', 'training-accuracy', 'training-loss', 'dataset', 'dag', 'confusion-0', 'confusion-1', 'confusion-2']) {
    const c = charts.find((x) => x.id === id);
    assert.ok(c, `chart ${id} missing (have ${ids.join(', ')})`);
    assert.ok(c!.svg && c!.marks > 5, `chart ${id} has no drawn SVG`);
  }
  assert.not.ok(ids.includes('confusion-3'), 'the skipped model has no confusion matrix');

  const crossHeaders = await page.$$eval('#cross-source-table thead th', (ths) => ths.map((t) => t.textContent ?? ''));
  for (const s of SHIFTED) assert.ok(crossHeaders.some((h) => h.includes(s)), `cross-source column ${s}`);

  const thumbs = await page.$$eval('.gallery img', (imgs) => imgs.map((i) => ({ src: i.getAttribute('src')?.slice(0, 22), ok: (i as unknown as { naturalWidth: number }).naturalWidth > 0 })));
  assert.ok(thumbs.length > 0, 'misclassified thumbnails');
  assert.ok(thumbs.every((t) => t.src === 'data:image/jpeg;base64' && t.ok));
  const sheets = await page.$$eval('[data-contact-sheet] img, [data-shifted-sheet] img', (imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth));
  assert.is(sheets.length, 3, 'two segmentation contact sheets and one shifted-set sheet');
  assert.ok(sheets.every((w) => w > 0));
  assert.is(await page.$eval('[data-leakage]', (e) => e.getAttribute('data-leakage')), '0');
  const segmentation = await page.$eval('#data', (e) => e.textContent ?? '');
  assert.match(segmentation, /no stained region/, 'segmentation failures are listed');

  const dagText = await page.$eval('figure[data-chart="dag"]', (f) => f.textContent ?? '');
  assert.match(dagText, /evaluate/);
  assert.match(dagText, /cached/);

  if (process.env.REPORT_SCREENSHOT) await page.screenshot({ path: process.env.REPORT_SCREENSHOT, fullPage: true });
});

test.run();
