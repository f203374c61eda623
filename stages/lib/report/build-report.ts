// Renders every chart and writes index.html, REPORT.md and metrics.json into a directory.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ReportData } from './types.js';
import { confusionSpec, crossSourceSpec, datasetSpec, perClassRecallSpec, studyAccuracySpec, trainingCurvesSpec } from './charts.js';
import { dagSpec } from './dag.js';
import { labellingCurveSpec } from './labs-section.js';
import { renderReportHtml, type RenderedChart, type RenderedCharts } from './html.js';
import { renderReportMarkdown } from './markdown.js';
import { studyMetrics } from './study-metrics.js';
import { renderVegaLite } from './vega-svg.js';
import type { TopLevelSpec } from 'vega-lite';

async function chart(id: string, spec: TopLevelSpec, caption?: string): Promise<RenderedChart> {
  try {
    return { id, svg: await renderVegaLite(spec), ...(caption ? { caption } : {}) };
  } catch (e) {
    throw new Error(`chart "${id}": ${(e as Error).message}`);
  }
}

export async function renderCharts(data: ReportData): Promise<RenderedCharts> {
  const evaluated = data.models.filter((m) => m.metrics?.status === 'evaluated' && m.metrics.test);
  const withHistory = data.models.filter((m) => m.history.length > 0);
  return {
    studyAccuracy: evaluated.length ? await chart('study-accuracy', studyAccuracySpec(data.models, data.original), 'Dots: accuracy; bars: 95 % bootstrap interval; diamonds: the accuracy the original study published for the same architecture and mode (where available).') : null,
    crossSource: evaluated.length && data.shiftedSources.length ? await chart('cross-source', crossSourceSpec(data.models, data.primarySource, data.shiftedSources)) : null,
    perClass: evaluated.length ? await chart('per-class', perClassRecallSpec(data.models, data.classes)) : null,
    trainingAccuracy: withHistory.length ? await chart('training-accuracy', trainingCurvesSpec(data.models, 'accuracy')) : null,
    trainingLoss: withHistory.length ? await chart('training-loss', trainingCurvesSpec(data.models, 'loss')) : null,
    confusion: await Promise.all(evaluated.map((m, i) => chart(`confusion-${i}`, confusionSpec(m, data.primarySource)))),
    dataset: data.split ? await chart('dataset', datasetSpec(data.split, data.classes)) : null,
    dag: await chart('dag', dagSpec(data.dag)),
    labellingCurve: data.labs.crossLab.some((r) => r.curve.some((c) => c.accuracy !== null))
      ? await chart('labelling-curve', labellingCurveSpec(data.labs.crossLab.find((r) => r.curve.length > 0)!), 'Accuracy on the rest of each lab; the test set shrinks as k grows (n in the table).')
      : null,
  };
}

/** Writes the three report files into `outDir`; returns their paths. */
export async function writeReport(data: ReportData, outDir: string): Promise<{ html: string; markdown: string; metrics: string }> {
  const charts = await renderCharts(data);
  const files = { html: path.join(outDir, 'index.html'), markdown: path.join(outDir, 'REPORT.md'), metrics: path.join(outDir, 'metrics.json') };
  await writeFile(files.html, renderReportHtml(data, charts));
  await writeFile(files.markdown, renderReportMarkdown(data));
  await writeFile(files.metrics, JSON.stringify(studyMetrics(data), null, 2) + '\n');
  return files;
}
