// Time to build the report for a full study: 8 architectures × {transfer, scratch} plus MobileNet
// transfer/finetune (18 models), 3 sources, 100 test images per class per source.
// Run: nice node --import tsx bench/report-render.ts   (REPORT_OUT=/some/file.html keeps the page)
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadReportData } from '../stages/lib/report/load-inputs.js';
import { writeReport } from '../stages/lib/report/build-report.js';
import { writeSyntheticStudy } from '../test/report/synthetic-study.js';

const archs = ['resnet50', 'vgg16', 'vgg19', 'inception_v3', 'xception', 'densenet121', 'densenet169', 'densenet201'];
const models = [
  ...archs.flatMap((arch, i) => [
    { arch, mode: 'transfer', skill: 0.8 + i * 0.02 },
    { arch, mode: 'scratch', skill: 0.4 + i * 0.03 },
  ]),
  { arch: 'mobilenet_v1_0.25', mode: 'transfer', skill: 0.85 },
  { arch: 'mobilenet_v1_0.25', mode: 'finetune', skill: 0.9 },
];
const study = await writeSyntheticStudy({ models, perClassTest: 100 });
try {
  const outDir = path.join(study.root, 'out');
  await mkdir(outDir);
  const t0 = performance.now();
  const data = await loadReportData({ deps: study.deps, workspace: study.workspace, title: 'bench', galleryPerModel: 12, runStateFile: study.runStateFile });
  const t1 = performance.now();
  const files = await writeReport(data, outDir);
  const t2 = performance.now();
  const size = (await stat(files.html)).size;
  console.log(`models ${models.length}, predictions/model ${100 * 4 * 3}`);
  console.log(`load inputs + thumbnails: ${((t1 - t0) / 1000).toFixed(2)} s`);
  console.log(`charts + html + md + json: ${((t2 - t1) / 1000).toFixed(2)} s`);
  console.log(`index.html: ${(size / 1024).toFixed(0)} KiB`);
  if (process.env.REPORT_OUT) await copyFile(files.html, process.env.REPORT_OUT);
} finally {
  await rm(study.root, { recursive: true, force: true });
}
