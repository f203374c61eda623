// REPORT.md: the study table, cross-source table and the facts a reader needs, in plain Markdown.
import type { ReportData } from './types.js';
import { studyRows } from './study-rows.js';
import { labsMarkdown } from './labs-section.js';
import { duration, escapeMdCell as e, interval, NA, num, pct, titleCase } from './format.js';

export function renderReportMarkdown(data: ReportData): string {
  const rows = studyRows(data.models, data.original, data.primarySource);
  const out: string[] = [];
  out.push(`# ${data.title}`, '');
  out.push(`Classes: ${data.classes.map(titleCase).join(', ') || NA}. Same-source test split: \`${data.primarySource}\`. Shifted sources: ${data.shiftedSources.map((s) => `\`${s}\``).join(', ') || 'none'}.`, '');
  out.push(...labsMarkdown(data.labs, data.models));
  out.push('## Study results', '');
  out.push('| Architecture | Mode | Accuracy | 95 % CI | Macro-F1 | Balanced accuracy | Test images | Epochs | Training time | Backend | Original study |');
  out.push('|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|');
  for (const r of rows) {
    const arch = r.status === 'evaluated' ? r.arch : `${r.arch} (${r.status}${r.reason ? `: ${r.reason}` : ''})`;
    const orig = r.originalAccuracy !== null ? `${pct(r.originalAccuracy)}${r.originalNote ? ` (${r.originalNote})` : ''}` : r.inOriginalStudy ? NA : '—';
    out.push(`| ${e(arch)} | ${e(r.mode)} | ${pct(r.accuracy)} | ${interval(r.accuracyCi)} | ${num(r.macroF1)} | ${pct(r.balancedAccuracy)} | ${r.testImages ?? NA} | ${r.epochs ?? NA}${r.bestEpoch !== null ? ` (best ${r.bestEpoch})` : ''} | ${duration(r.trainSeconds)} | ${e(r.backend ?? NA)} | ${orig} |`);
  }
  out.push('', `Original study: ${data.original.citation}`, '');
  if (data.original.notAvailable) out.push(`Not available: ${data.original.notAvailable}`, '');
  out.push(`Published means: transfer learning ${pct(data.original.summary.transferMeanAccuracy)}, from scratch ${pct(data.original.summary.scratchMeanAccuracy)}. ${data.original.caveats.join(' ')}`, '');
  if (data.shiftedSources.length > 0) {
    out.push('## Cross-source robustness', '');
    out.push(`| Model | ${data.primarySource} (same source) | ${data.shiftedSources.join(' | ')} |`);
    out.push(`|---|--:|${data.shiftedSources.map(() => '--:').join('|')}|`);
    for (const r of rows.filter((x) => x.status === 'evaluated')) {
      const cells = data.shiftedSources.map((s) => {
        const sm = r.shifted[s];
        return sm && sm.accuracy !== null ? `${pct(sm.accuracy)} (${interval(sm.accuracyCi)})` : NA;
      });
      out.push(`| ${e(r.label)} | ${pct(r.accuracy)} (${interval(r.accuracyCi)}) | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  if (data.split) {
    out.push('## Dataset', '', '| Split | Images | Original cells |', '|---|--:|--:|');
    for (const s of Object.keys(data.split.counts)) out.push(`| ${s} | ${data.split.files[s] ?? 0} | ${data.split.groups[s] ?? 0} |`);
    out.push('');
  }
  out.push('## Pipeline', '', data.dag.provenance, '', '| Stage | Depends on | Instances | Status | Time |', '|---|---|--:|---|--:|');
  for (const n of data.dag.nodes) out.push(`| ${n.id} | ${n.deps.join(', ') || '—'} | ${n.instances} | ${n.status ?? NA} | ${duration(n.seconds)} |`);
  out.push('', '## Environment', '', `Node ${data.environment.node}; ${data.environment.platform}; ${data.environment.cpu} × ${data.environment.cpus}; ${data.environment.memoryGiB} GiB.`);
  out.push(`Training backends: ${data.environment.backends.join('; ') || NA}.`, '');
  if (data.notes.length) out.push('## Notes', '', ...data.notes.map((n) => `- ${n}`), '');
  out.push('The full report with charts, confusion matrices and the misclassified gallery is `index.html` (self-contained, works offline).', '');
  return out.join('\n');
}
