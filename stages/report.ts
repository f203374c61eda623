// report: the study as a self-contained HTML page (index.html), REPORT.md and metrics.json.
// Reads the outputs of evaluate, train, audit, segment, split, shifted and normalize from ctx.deps.
import { defineStage } from '../pipeline/stage-api.js';
import { loadReportData } from './lib/report/load-inputs.js';
import { writeReport } from './lib/report/build-report.js';

export interface ReportParams {
  title: string;
  /** Misclassified thumbnails shown per model. */
  galleryPerModel: number;
}

export default defineStage<ReportParams>({
  paramsSchema: {
    type: 'object',
    properties: {
      title: { type: 'string', minLength: 1 },
      galleryPerModel: { type: 'integer', minimum: 0, maximum: 200 },
    },
  },
  async run(ctx) {
    const data = await loadReportData({
      deps: ctx.deps,
      workspace: ctx.workspace,
      title: ctx.params.title ?? 'Leukocyte classification study',
      galleryPerModel: ctx.params.galleryPerModel ?? 12,
      // The runner's snapshot of this run (DAG, statuses, times), when it provides one.
      runStateFile: ctx.runStateFile ?? null,
      selfStageId: ctx.stageId,
    });
    ctx.progress(1, 2, 'charts');
    const files = await writeReport(data, ctx.outDir);
    ctx.progress(2, 2, 'written');
    for (const note of data.notes) ctx.warn(note);
    ctx.log(`report: ${data.models.length} models → ${files.html}`);
  },
});
