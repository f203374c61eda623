// The self-contained HTML page: inline CSS, charts as inline SVG, images as data: URIs, no scripts.
import type { ReportData } from './types.js';
import { bestRow, studyRows, type StudyRow } from './study-rows.js';
import { duration, escapeHtml as h, interval, NA, num, pct, titleCase } from './format.js';
import { markdownToHtml } from './markdown-to-html.js';
import { REPORT_CSS } from './style.js';
import { labsHtml } from './labs-section.js';

export interface RenderedChart {
  id: string;
  svg: string;
  caption?: string;
}

export interface RenderedCharts {
  studyAccuracy: RenderedChart | null;
  crossSource: RenderedChart | null;
  perClass: RenderedChart | null;
  trainingAccuracy: RenderedChart | null;
  trainingLoss: RenderedChart | null;
  confusion: RenderedChart[];
  dataset: RenderedChart | null;
  dag: RenderedChart;
  labellingCurve: RenderedChart | null;
}

function figure(chart: RenderedChart | null): string {
  if (!chart) return '';
  return `<figure class="chart" data-chart="${h(chart.id)}">${chart.svg}${chart.caption ? `<figcaption>${h(chart.caption)}</figcaption>` : ''}</figure>`;
}

const na = `<span class="na">${NA}</span>`;
const cell = (text: string) => (text === NA ? na : h(text));

function accuracyCell(acc: number | null, ci: StudyRow['accuracyCi']): string {
  if (acc === null) return na;
  return `${h(pct(acc))}<br><span class="ci">${h(interval(ci))}</span>`;
}

function studyTable(rows: StudyRow[], data: ReportData): string {
  const best = bestRow(rows);
  const body = rows
    .map((r, i) => {
      const cls = r.status === 'skipped' ? 'skipped' : i === best ? 'best' : '';
      const original = r.originalAccuracy !== null ? `${h(pct(r.originalAccuracy))}${r.originalNote ? `<br><span class="ci">${h(r.originalNote)}</span>` : ''}` : r.inOriginalStudy ? `<span class="na" title="not in the text we could read">${NA}</span>` : `<span class="na" title="not part of the original study">—</span>`;
      const epochs = r.epochs === null ? na : `${r.epochs}${r.bestEpoch !== null ? ` <span class="ci">(best ${r.bestEpoch}${r.stoppedEarly ? ', stopped early' : ''})</span>` : ''}`;
      const status = r.status === 'evaluated' ? '' : `<br><span class="ci">${h(r.status)}${r.reason ? `: ${h(r.reason)}` : ''}</span>`;
      return `<tr class="${cls}" data-model="${h(r.label)}" data-arch="${h(r.arch)}" data-mode="${h(r.mode)}">
<td><strong>${h(r.arch)}</strong>${status}</td><td><span class="pill ${h(r.mode)}">${h(r.mode)}</span></td>
<td class="num" data-accuracy="${r.accuracy ?? ''}">${accuracyCell(r.accuracy, r.accuracyCi)}</td>
<td class="num">${cell(num(r.macroF1))}</td><td class="num">${cell(pct(r.balancedAccuracy))}</td><td class="num">${r.testImages ?? na}</td>
<td class="num">${epochs}</td><td class="num">${cell(duration(r.trainSeconds))}${r.msPerImage !== null ? `<br><span class="ci">${r.msPerImage.toFixed(1)} ms/image</span>` : ''}</td><td>${r.backend ? h(r.backend) : na}</td>
<td class="num">${original}</td></tr>`;
    })
    .join('\n');
  return `<table class="data" id="study-table">
<thead><tr><th>Architecture</th><th>Mode</th><th class="num">Accuracy<br><span class="ci">95 % CI</span></th><th class="num">Macro-F1</th><th class="num">Balanced accuracy</th><th class="num">Test images</th><th class="num">Epochs</th><th class="num">Training time<br><span class="ci">inference</span></th><th>Backend</th><th class="num">Original study<br><span class="ci">published accuracy</span></th></tr></thead>
<tbody>
${body}
</tbody></table>
<p class="cite">${studyFootnote(data)}</p>`;
}

function studyFootnote(data: ReportData): string {
  const b = data.models.find((m) => m.metrics)?.metrics?.bootstrap;
  const interval = b ? `, with a ${b.resamples}-resample seeded (seed ${b.seed}) percentile bootstrap ${Math.round(b.level * 100)} % interval` : '';
  return `Accuracy is on the held-out same-source test split (<code>${h(data.primarySource)}</code>)${interval}. Training time is the wall-clock time of the train stage on the backend shown; inference time per image is measured by evaluate.`;
}

function crossSourceTable(rows: StudyRow[], data: ReportData): string {
  if (data.shiftedSources.length === 0) return '';
  const labs = new Set(data.models.flatMap((m) => m.metrics?.labs ?? []));
  const head = data.shiftedSources.map((s) => `<th class="num">${h(s)}<br><span class="ci">${labs.has(s) ? 'lab, test split' : 'simulated'}</span></th>`).join('');
  const body = rows
    .filter((r) => r.status === 'evaluated')
    .map((r) => {
      const shifted = data.shiftedSources
        .map((s) => {
          const sm = r.shifted[s];
          if (!sm || sm.accuracy === null) return `<td class="num">${na}</td>`;
          const change = r.accuracy !== null ? (sm.accuracy - r.accuracy) * 100 : null;
          const drop = change !== null ? `<br><span class="${change <= -0.05 ? 'drop' : 'ci'}">${Math.abs(change) < 0.05 ? '±' : change < 0 ? '−' : '+'}${Math.abs(change).toFixed(1)} pts</span>` : '';
          const extra = sm.balancedAccuracy !== undefined ? `<br><span class="ci">bal. ${h(pct(sm.balancedAccuracy))}, F1 ${h(num(sm.macroF1 ?? null))}</span>` : '';
          return `<td class="num">${accuracyCell(sm.accuracy, sm.accuracyCi)}${extra}${drop}</td>`;
        })
        .join('');
      return `<tr data-model="${h(r.label)}"><td><strong>${h(r.arch)}</strong> <span class="pill ${h(r.mode)}">${h(r.mode)}</span></td><td class="num">${accuracyCell(r.accuracy, r.accuracyCi)}</td>${shifted}</tr>`;
    })
    .join('\n');
  return `<table class="data" id="cross-source-table"><thead><tr><th>Model</th><th class="num">${h(data.primarySource)}<br><span class="ci">same source</span></th>${head}</tr></thead><tbody>${body}</tbody></table>
<p class="cite">Each cell: accuracy, 95 % bootstrap interval, balanced accuracy and macro-F1, and (red) the change from the pooled same-lab accuracy in percentage points. Columns marked "simulated" are test cells altered by a recipe, not another lab; real other labs are in the leave-one-lab-out table.</p>`;
}

function headlineCards(rows: StudyRow[], data: ReportData): string {
  const best = bestRow(rows);
  const b = best >= 0 ? rows[best]! : null;
  const evaluatedRows = rows.filter((r) => r.status === 'evaluated');
  const worstShift = b
    ? Object.entries(b.shifted)
        .filter(([, v]) => v.accuracy !== null)
        .sort((x, y) => (x[1].accuracy ?? 0) - (y[1].accuracy ?? 0))[0]
    : undefined;
  const testN = b?.testImages ?? null;
  return `<div class="cards">
<div class="card"><div class="k">Best same-source accuracy</div><div class="v">${b ? h(pct(b.accuracy)) : na}</div><div class="s">${b ? `${h(b.label)} · 95 % CI ${h(interval(b.accuracyCi))}` : 'no evaluated model'}</div></div>
<div class="card"><div class="k">Hardest shifted source (best model)</div><div class="v">${worstShift ? h(pct(worstShift[1].accuracy)) : na}</div><div class="s">${worstShift ? h(worstShift[0]) : 'no shifted-source results'}</div></div>
<div class="card"><div class="k">Models evaluated</div><div class="v">${evaluatedRows.length} / ${rows.length}</div><div class="s">${rows.length - evaluatedRows.length} skipped or missing</div></div>
<div class="card"><div class="k">Original study (best)</div><div class="v">${h(pct(Math.max(...data.original.results.map((r) => r.accuracy ?? 0)) || null))}</div><div class="s">DenseNet169/201, transfer; test overlapped validation</div></div>
${testN !== null ? `<div class="card"><div class="k">Same-source test images</div><div class="v">${testN}</div><div class="s">source <code>${h(data.primarySource)}</code>, held out by original cell</div></div>` : ''}
${leakageCard(data)}
</div>`;
}

/** The audit's verdict on leakage between splits, when audit.json carries it. */
function leakageCard(data: ReportData): string {
  const a = data.audit.json;
  if (!a || !Array.isArray(a.crossSplitDuplicates) || !Array.isArray(a.sharedAcrossSplits)) return '';
  const n = a.crossSplitDuplicates.length + a.sharedAcrossSplits.length;
  return `<div class="card" data-leakage="${n}"><div class="k">Leakage between splits</div><div class="v" style="color:${n === 0 ? 'var(--good)' : 'var(--bad)'}">${n === 0 ? 'none found' : n}</div><div class="s">${a.crossSplitDuplicates.length} duplicate pairs across splits, ${a.sharedAcrossSplits.length} files in several splits (audit)</div></div>`;
}

/** One of the thesis tables: per-class accuracy of each architecture in one mode. */
function originalPerClassTable(o: ReportData['original'], mode: 'transfer' | 'scratch'): string {
  const rows = o.results.filter((r) => r.mode === mode && r.perClass);
  if (rows.length === 0) return '';
  const classes = Object.keys(rows[0]!.perClass!);
  return `<table class="data" id="original-${mode}"><caption>${mode === 'transfer' ? 'Transfer learning (thesis table 5.2)' : 'From scratch (thesis table 5.1)'}</caption>
<thead><tr><th>Architecture</th>${classes.map((c) => `<th class="num">${h(titleCase(c))}</th>`).join('')}<th class="num">Mean</th></tr></thead><tbody>
${rows.map((r) => `<tr data-arch="${h(r.arch)}"><td>${h(r.kerasName)}</td>${classes.map((c) => `<td class="num">${h(pct(r.perClass![c] ?? null))}</td>`).join('')}<td class="num">${h(pct(r.accuracy))}</td></tr>`).join('\n')}
</tbody></table>`;
}

function originalStudySection(data: ReportData): string {
  const o = data.original;
  return `<h3>The original study</h3>
<p class="cite">${h(o.citation)}</p>
<dl class="kv"><dt>Transfer learning, mean of 8 architectures</dt><dd>${h(pct(o.summary.transferMeanAccuracy))}</dd>
<dt>From scratch, mean of 8 architectures</dt><dd>${h(pct(o.summary.scratchMeanAccuracy))}</dd>
<dt>Training-time ratio (scratch ÷ transfer)</dt><dd>${o.summary.transferTrainingSpeedup ?? NA}×</dd>
<dt>Test set</dt><dd>${h(String(o.setup.images ?? NA))}</dd></dl>
${o.notAvailable ? `<div class="note"><strong>Not available:</strong> ${h(o.notAvailable)}</div>` : ''}
${(['transfer', 'scratch'] as const).map((mode) => originalPerClassTable(o, mode)).join('\n')}
<ul>${o.caveats.map((c) => `<li>${h(c)}</li>`).join('')}</ul>`;
}

function datasetSection(data: ReportData, charts: RenderedCharts): string {
  const parts: string[] = [];
  if (data.split) {
    const splits = Object.keys(data.split.counts);
    const classes = data.classes.length ? data.classes : [...new Set(splits.flatMap((s) => Object.keys(data.split!.counts[s] ?? {})))];
    parts.push(figure(charts.dataset));
    parts.push(`<table class="data" id="split-table"><thead><tr><th>Split</th>${classes.map((c) => `<th class="num">${h(titleCase(c))}</th>`).join('')}<th class="num">Images</th><th class="num">Original cells (groups)</th></tr></thead><tbody>
${splits.map((s) => `<tr><td>${h(s)}</td>${classes.map((c) => `<td class="num">${data.split!.counts[s]?.[c] ?? 0}</td>`).join('')}<td class="num">${data.split!.files[s] ?? 0}</td><td class="num">${data.split!.groups[s] ?? 0}</td></tr>`).join('\n')}
</tbody></table>`);
  } else parts.push(`<p class="na">No split outputs reached the report.</p>`);
  parts.push(`<h3>Audit</h3>`);
  parts.push(data.audit.markdown ? `<div class="audit">${markdownToHtml(data.audit.markdown.replace(/^\s*#\s[^\n]*\n/, ''), 2)}</div>` : `<p class="na">No audit report.</p>`);
  if (data.segment.summary) {
    parts.push(`<h3>Segmentation</h3>${renderValue(data.segment.summary)}`);
  }
  if (data.segment.contactSheets.length > 0) {
    parts.push(`<h4>Segmentation contact sheets</h4><div class="sheets wide">${data.segment.contactSheets
      .map((s) => `<figure data-contact-sheet="${h(s.className)}"><img alt="Segmented ${h(titleCase(s.className))} cells" src="${s.dataUri}"><figcaption>${h(titleCase(s.className))}</figcaption></figure>`)
      .join('')}</div>`);
  }
  if (data.shifted) {
    // `items` lists every generated image; the per-set summary above it says what a reader needs.
    const { items: _items, ...summary } = data.shifted;
    parts.push(`<h3>Shifted-source test sets</h3><p class="lead">Built only from test-split originals, so no shifted image shares a cell with training.</p>${renderValue(summary)}`);
    if (data.shiftedSheets.length > 0) {
      parts.push(`<h4>Shifted-set contact sheets</h4><div class="sheets">${data.shiftedSheets
        .map((s) => `<figure data-shifted-sheet="${h(s.className)}"><img alt="Shifted set ${h(s.className)}" src="${s.dataUri}"><figcaption>${h(s.className)}</figcaption></figure>`)
        .join('')}</div>`);
    }
  }
  return parts.join('\n');
}

const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const fmt = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : String(v));
const MAX_ROWS = 50;

/** Flattens one level of nesting (perClass: {A: 1} → "perClass.A") so a record fits a table row. */
function flatRow(r: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (isRecord(v) && Object.values(v).every(isScalar)) for (const [k2, v2] of Object.entries(v)) out[`${k} ${k2}`] = v2;
    else out[k] = isScalar(v) ? v : JSON.stringify(v);
  }
  return out;
}

function table(rows: Record<string, unknown>[], keyHeader?: string, keys?: string[]): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const shown = rows.slice(0, MAX_ROWS);
  return `<table class="data"><thead><tr>${keyHeader !== undefined ? `<th>${h(keyHeader)}</th>` : ''}${cols.map((c) => `<th>${h(c)}</th>`).join('')}</tr></thead><tbody>${shown
    .map((r, i) => `<tr>${keys ? `<td>${h(keys[i] ?? '')}</td>` : ''}${cols.map((c) => `<td>${h(fmt(r[c] ?? ''))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>${rows.length > MAX_ROWS ? `<p class="cite">… ${rows.length - MAX_ROWS} more rows in the JSON file.</p>` : ''}`;
}

/**
 * Any JSON summary a stage wrote, readably: scalars as a definition list, lists of records and
 * records of records as tables, deeper structures as collapsible JSON.
 */
function renderValue(value: unknown, depth = 0): string {
  if (isScalar(value)) return h(fmt(value));
  if (Array.isArray(value)) {
    if (value.length === 0) return '<span class="na">none</span>';
    if (value.every(isScalar)) return h(value.slice(0, MAX_ROWS).map(fmt).join(', ') + (value.length > MAX_ROWS ? ` … (${value.length} in all)` : ''));
    if (value.every(isRecord)) return table(value.map(flatRow));
  } else if (isRecord(value)) {
    const entries = Object.entries(value);
    if (entries.length > 0 && entries.every(([, v]) => isRecord(v) && Object.values(v).every(isScalar))) {
      return table(entries.map(([, v]) => v as Record<string, unknown>), '', entries.map(([k]) => k));
    }
    if (depth < 2) return `<dl class="kv">${entries.map(([k, v]) => `<dt>${h(k)}</dt><dd>${renderValue(v, depth + 1)}</dd>`).join('')}</dl>`;
  }
  return `<details><summary>JSON</summary><pre>${h(JSON.stringify(value, null, 2).slice(0, 20000))}</pre></details>`;
}

function gallerySection(data: ReportData): string {
  const withMistakes = data.models.filter((m) => m.misclassified.length > 0);
  if (withMistakes.length === 0) return `<p class="na">No misclassified images were listed.</p>`;
  return withMistakes
    .map((m) => {
      const items = m.misclassified
        .map((g) => {
          const pi = data.classes.indexOf(g.predictedClass);
          const p = pi >= 0 ? g.probabilities[pi] : undefined;
          const img = g.thumbnail ? `<img alt="${h(g.path)}" src="${g.thumbnail}">` : `<div class="noimg">no image</div>`;
          return `<figure data-misclassified="${h(g.path)}">${img}<div class="t">true: ${h(titleCase(g.trueClass))}</div><div class="p">pred: ${h(titleCase(g.predictedClass))}${p !== undefined ? ` (${(p * 100).toFixed(0)} %)` : ''}</div><div class="src">${h(g.source)}</div></figure>`;
        })
        .join('');
      return `<h4>${h(m.label)} <span class="ci">showing ${m.misclassified.length} of ${m.misclassifiedTotal}, most confident first</span></h4><div class="gallery">${items}</div>`;
    })
    .join('\n');
}

function environmentSection(data: ReportData): string {
  const e = data.environment;
  return `<dl class="kv"><dt>Node.js</dt><dd>${h(e.node)}</dd><dt>Platform</dt><dd>${h(e.platform)}</dd><dt>CPU</dt><dd>${h(e.cpu)} × ${e.cpus}</dd><dt>Memory</dt><dd>${e.memoryGiB} GiB</dd>
<dt>Training backends</dt><dd>${e.backends.length ? e.backends.map(h).join('<br>') : na}</dd>
${Object.entries(e.packages).map(([k, v]) => `<dt>${h(k)}</dt><dd>${h(v)}</dd>`).join('')}</dl>
<p class="cite">The environment is that of the machine that built this report; each model's backend comes from its own train record.</p>`;
}

export function renderReportHtml(data: ReportData, charts: RenderedCharts): string {
  const rows = studyRows(data.models, data.original, data.primarySource);
  const sections: [string, string, string][] = [
    ['labs', 'Other labs', `<h2>Models in labs they never saw</h2>${labsHtml(data.labs, data.models, charts.labellingCurve ? figure(charts.labellingCurve) : null) || '<p class="na">No labs or leave-one-lab-out results reached the report.</p>'}`],
    ['study', 'Study', `<h2>Study results</h2><p class="lead">Each architecture × training mode, evaluated on held-out cells of the same source. Intervals show how sure each figure is; overlapping intervals mean the models are not distinguishable on this test set.</p>
${studyTable(rows, data)}${figure(charts.studyAccuracy)}${originalStudySection(data)}`],
    ['robustness', 'Cross-source', `<h2>Cross-source robustness</h2><p class="lead">The same models on each lab's own test split, and on simulations: test cells altered to look like another lab's (stain, scale, tight crops on white, blur/JPEG). A model that only learned one lab's look drops here.</p>
${crossSourceTable(rows, data) || '<p class="na">No shifted-source results.</p>'}${figure(charts.crossSource)}`],
    ['classes', 'Per class', `<h2>Per-class results</h2>${figure(charts.perClass)}<h3>Confusion matrices (same-source test split)</h3><div class="grid">${charts.confusion.map(figure).join('')}</div>`],
    ['training', 'Training', `<h2>Training curves</h2>${figure(charts.trainingAccuracy)}${figure(charts.trainingLoss)}${charts.trainingAccuracy ? '' : '<p class="na">No training history.</p>'}`],
    ['data', 'Data & audit', `<h2>Dataset and audit</h2>${datasetSection(data, charts)}`],
    ['mistakes', 'Misclassified', `<h2>Misclassified cells</h2><p class="lead">The most confident mistakes of each model. Same-source cells are shown as the model saw them (segmented and normalised); shifted-source images as they arrived, before the pipeline prepared them.</p>${gallerySection(data)}`],
    ['pipeline', 'Pipeline', `<h2>Pipeline</h2><p class="lead">${h(data.dag.provenance)}</p>${figure(charts.dag)}`],
    ['environment', 'Environment', `<h2>Environment</h2>${environmentSection(data)}`],
  ];
  const notes = data.notes.length ? `<section id="notes"><h2>Notes</h2><ul>${data.notes.map((n) => `<li>${h(n)}</li>`).join('')}</ul></section>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${h(data.title)}</title><style>${REPORT_CSS}</style></head>
<body>
<header class="top"><div class="wrap"><h1>${h(data.title)}</h1><p>White blood cell classification (${data.classes.map((c) => h(titleCase(c))).join(', ') || 'classes n/a'}): ${rows.length} models, leakage-free grouped split, 95 % intervals, and accuracy on shifted sources.</p></div></header>
<nav class="toc"><div class="wrap">${sections.map(([id, label]) => `<a href="#${id}">${h(label)}</a>`).join('')}${notes ? '<a href="#notes">Notes</a>' : ''}</div></nav>
<main class="wrap">
${headlineCards(rows, data)}
${sections.map(([id, , body]) => `<section id="${id}">${body}</section>`).join('\n')}
${notes}
</main>
<footer class="wrap">Generated by leukopipe's report stage. Charts are Vega-Lite specs rendered to SVG at build time; this page loads nothing from the network.</footer>
</body></html>
`;
}
