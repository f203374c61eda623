// The report's labs part: which labs the study learned from (licence, who labelled them), the
// leave-one-lab-out table — the headline cross-lab figure — beside each lab's own test-split figure,
// and the labelling curve (held-out accuracy as a lab labels k of its own cells per class).
import type { TopLevelSpec } from 'vega-lite';
import { headlineHeldOut, headlineMean, type CrossLabRecord } from '../records/cross-lab-record.js';
import type { SourceMetrics } from '../metrics/evaluation-metrics.js';
import { escapeHtml as h, escapeMdCell as e, interval, NA, num, pct, titleCase } from './format.js';
import type { LabsData, ModelResult } from './types.js';
import type { AugmentSettings } from '../records/augment-record.js';

/** The same-lab test figure of `lab` from the all-labs model trained like the held-out heads (same arch, transfer). */
export function sameLabMetrics(models: readonly ModelResult[], arch: string, lab: string): { model: string; metrics: SourceMetrics } | null {
  const m = models.find((x) => x.arch === arch && x.mode === 'transfer' && x.metrics?.status === 'evaluated');
  const sm = m?.metrics?.sources[lab];
  return m && sm ? { model: m.label, metrics: sm } : null;
}

/**
 * How the cells of `arch`'s models were prepared, when they were low-passed: the setting chosen on the
 * mean over held-out labs, said where the held-out figures are.
 */
export function cellPreparation(models: readonly ModelResult[], arch: string): string | null {
  const n = models.find((x) => x.arch === arch && x.train?.normalization)?.train?.normalization;
  if (!n?.blurSigma) return null;
  return `Every cell, in every lab and for every model, is colour-normalised (${n.method}) and then low-passed (Gaussian σ ${n.blurSigma} px, normalize.blurSigma) to one optical resolution; kept because it raised the mean balanced accuracy over the held-out labs, never chosen on one lab (BENCHMARKS.md, Labs).`;
}

/**
 * What the training variants' photometric ops were, said beside the held-out figures with how they were
 * chosen (the mean over held-out labs); null when augment.json did not reach the report or none is on.
 */
export function trainingVariants(a: AugmentSettings | null | undefined): string | null {
  const ph = a?.photometric;
  if (!a || !ph) return null;
  const share = (p: number | undefined) => (p !== undefined && p < 1 ? ` on ${Math.round(p * 100)} % of them` : '');
  const ops = Object.entries(ph).flatMap(([op, v]): string[] => {
    if (op === 'whiteThreshold' || !v) return [];
    if (op === 'stain' && ph.stain) return [`re-stained in HED space (scale 1 ± ${ph.stain.sigma}, bias ± ${ph.stain.bias})${share(ph.stain.p)}`];
    if (op === 'gamma' && ph.gamma) return [`given a random gamma of ${ph.gamma.range[0]}–${ph.gamma.range[1]}${share(ph.gamma.p)}`];
    if (op === 'noise' && ph.noise) return [`mottled with colour blotches (noise in each channel, of up to ${ph.noise.sigma[1]} in 255, in grains of about ${ph.noise.grain ?? 0} px)${share(ph.noise.p)}`];
    return [`given the ${op} op (augment.photometric.${op})`];
  });
  if (ops.length === 0) return null;
  return `Where a model trains on augmented variants (${a.variants} per cell), they were ${ops.join(' and ')}; each of these settings was kept because it raised the mean balanced accuracy over the held-out labs, never chosen on one lab (BENCHMARKS.md, Labs).`;
}

/** How the held-out figures were made, for a table's lead; `short` for a heading. */
function adaptationText(r: CrossLabRecord, short: boolean): string {
  const kept = 'kept because it raised the mean balanced accuracy over the held-out labs, never chosen on one lab (BENCHMARKS.md, Labs)';
  if (r.adapt === 'adabn') return short ? 'with AdaBN' : `with test-time adaptation (AdaBN on the held-out lab), ${kept}`;
  if (r.adapt === 'self-training') {
    const st = r.selfTraining;
    const views = st?.views ? `; each cell with ${st.views} augmented variant${st.views === 1 ? '' : 's'} of it, made as the training cells' were, its label and its result the mean over them` : '';
    const how = st ? `${st.rounds} rounds, the last taking ${Math.round(st.portion * 100)} % of each predicted class${views}` : 'several rounds';
    return short
      ? 'after self-training on its unlabelled cells'
      : `after self-training on the held-out lab's unlabelled cells (the head trained on its own most confident labels of that lab's cells, ${how}; what pipe predict does to a folder), ${kept}`;
  }
  return short ? 'as trained' : 'as trained (no test-time adaptation)';
}

function recallCells(sm: SourceMetrics, classes: string[]): string[] {
  return classes.map((c) => {
    const k = sm.perClass.find((p) => p.class === c);
    return k && k.recall !== null ? `${pct(k.recall, 0)} (${k.support})` : NA;
  });
}

function confusionText(sm: SourceMetrics): string {
  return sm.confusion.counts.map((row) => row.join(' ')).join(' / ');
}

/** `curveSvg`: the labelling-curve chart, already wrapped as a report figure (with its data-chart id). */
export function labsHtml(data: LabsData, models: readonly ModelResult[], curveSvg: string | null): string {
  const parts: string[] = [];
  if (data.labs.length) {
    parts.push(`<h3>Labs</h3><table class="data" id="labs-table"><thead><tr><th>Lab</th><th class="num">Cells</th><th>Per class</th><th>Labelled by</th><th>Licence</th><th>Groups for the split</th></tr></thead><tbody>${data.labs
      .map(
        (l) =>
          `<tr data-lab="${h(l.name)}"><td><strong>${h(l.name)}</strong><br><span class="ci">${h(l.description)}</span></td><td class="num">${l.images}</td><td>${Object.entries(l.perClass).map(([c, n]) => `${h(titleCase(c))} ${n}`).join(', ')}</td><td>${h(l.labelledBy)}</td><td>${h(l.licence)}</td><td>${l.sessionCount !== null ? `${l.sessionCount} sessions (<code>${h(l.sessions ?? '')}</code>)` : l.labels === 'voc-boxes' ? 'by smear' : 'by image content'}</td></tr>`,
      )
      .join('')}</tbody></table>`);
  }
  const variants = data.crossLab.some((r) => r.status === 'evaluated') ? trainingVariants(data.augmentation) : null;
  if (variants) parts.push(`<p class="lead" id="training-variants">${h(variants)}</p>`);
  for (const r of data.crossLab) {
    if (r.status !== 'evaluated') {
      parts.push(`<p class="na">Leave-one-lab-out (${h(r.arch)}): ${h(r.reason ?? 'not evaluated')}</p>`);
      continue;
    }
    const shown = adaptationText(r, false);
    const head = `<tr><th>Held-out lab</th><th>Trained on</th><th class="num">Cells</th><th class="num">Accuracy<br><span class="ci">95 % CI</span></th><th class="num">Balanced accuracy</th><th class="num">Macro-F1</th>${r.classes.map((c) => `<th class="num">${h(titleCase(c))}<br><span class="ci">recall (n)</span></th>`).join('')}<th>Confusion (rows true, ${r.classes.map((c) => h(c.slice(0, 3))).join(' ')})</th><th class="num">Same lab, test split<br><span class="ci">all-labs model</span></th><th class="num">Other figure<br><span class="ci">${r.adapt === 'none' ? 'with AdaBN' : 'as trained'}</span></th></tr>`;
    const body = r.heldOut
      .map((x) => {
        const sm = headlineHeldOut(r, x);
        const other = r.adapt === 'none' ? x.adapted : x.asTrained;
        const same = sameLabMetrics(models, r.arch, x.lab);
        return `<tr data-held-out-lab="${h(x.lab)}"><td><strong>${h(x.lab)}</strong></td><td>${h(x.trainedOn.join(', '))}</td><td class="num">${sm.n}</td><td class="num">${h(pct(sm.accuracy))}<br><span class="ci">${h(interval(sm.accuracyCi))}</span></td><td class="num">${h(pct(sm.balancedAccuracy))}</td><td class="num">${h(num(sm.macroF1))}</td>${recallCells(sm, r.classes).map((c) => `<td class="num">${h(c)}</td>`).join('')}<td><code>${h(confusionText(sm))}</code></td><td class="num">${same ? `${h(pct(same.metrics.accuracy))}<br><span class="ci">bal. ${h(pct(same.metrics.balancedAccuracy))}, n=${same.metrics.n}</span>` : NA}</td><td class="num">${other ? `${h(pct(other.accuracy))}<br><span class="ci">bal. ${h(pct(other.balancedAccuracy))}</span>` : NA}</td></tr>`;
      })
      .join('');
    const m = headlineMean(r);
    const mean = `<tr class="mean"><td><strong>mean over held-out labs</strong></td><td></td><td></td><td class="num">${h(pct(m.accuracy))}</td><td class="num">${h(pct(m.balancedAccuracy))}</td><td class="num">${h(num(m.macroF1))}</td>${r.classes.map(() => '<td></td>').join('')}<td></td><td></td><td></td></tr>`;
    parts.push(`<h3>Leave one lab out — ${h(r.arch)}</h3><p class="lead">Each row: a model that never saw that lab, measured on all of its cells, ${h(shown)}. ${h(r.protocol)} Features: ${h(r.features)}. ${h(cellPreparation(models, r.arch) ?? '')} The same-lab column is the all-labs ${h(r.arch)} transfer model on that lab's own test split (the model trained on every lab).</p>
<table class="data" id="cross-lab-table" data-arch="${h(r.arch)}"><thead>${head}</thead><tbody>${body}${mean}</tbody></table>`);
    parts.push(`<h3>How many of its own cells must a lab label?</h3><p class="lead">Held-out accuracy of each lab when k of its labelled cells per class join training, taken session by session (a session, smear or cell that gave a labelled cell leaves the test set; the lab's other sessions are the test set); k = 0 is the row above. ${h(curveFigureText(r))}</p>${curveSvg ?? ''}${curveTable(r)}`);
  }
  return parts.join('\n');
}

/** True when every k > 0 point of the curve gives its figure after self-training on the rest of the lab. */
function curveSelfTrained(r: CrossLabRecord): boolean {
  const later = r.curve.filter((c) => c.k > 0 && c.accuracy !== null);
  return later.length > 0 && later.every((c) => c.figure === 'self-trained');
}

/** What the curve's k > 0 figures are, from the record itself. */
function curveFigureText(r: CrossLabRecord): string {
  if (curveSelfTrained(r)) {
    const anchored = r.curveAnchors
      ? ' The k labelled cells, with their classes, join every round of it, as pipe predict --labelled gives them; that raised the mean again at most points.'
      : '';
    return `At every k, as at k = 0, the head then self-trains on the rest of the lab (its unlabelled cells), as pipe predict would on a folder from a lab that had labelled k cells per class; that raised the mean over the held-out labs at every k over the as-trained figure, which is given beside it (BENCHMARKS.md, Labs).${anchored}`;
  }
  const selfNote = r.adapt === 'self-training' ? '; self-training runs at k = 0 only' : '';
  return `For k > 0 the figure is as trained: the head has seen the lab, and AdaBN on the rest of it, whose class mix the taken cells skew, lowered the mean over the labs at every such point${selfNote}.`;
}

function curveTable(r: CrossLabRecord): string {
  const ks = [...new Set(r.curve.map((c) => c.k))].sort((a, b) => a - b);
  const rows = [...new Set(r.curve.map((c) => c.lab))].map((lab) => {
    const cells = ks.map((k) => {
      const c = r.curve.find((x) => x.lab === lab && x.k === k);
      const before = c?.asTrained ? `; as trained ${pct(c.asTrained.accuracy)}` : '';
      return c && c.accuracy !== null ? `${pct(c.accuracy)}<br><span class="ci">bal. ${pct(c.balancedAccuracy)}, n=${c.testN}${before}</span>` : NA;
    });
    return `<tr data-curve-lab="${h(lab)}"><td>${h(lab)}</td>${cells.map((c) => `<td class="num">${c}</td>`).join('')}</tr>`;
  });
  return `<table class="data" id="labelling-curve-table"><thead><tr><th>Lab</th>${ks.map((k) => `<th class="num">k = ${k}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

export function labellingCurveSpec(r: CrossLabRecord): TopLevelSpec {
  const values = r.curve.filter((c) => c.accuracy !== null).map((c) => ({ lab: c.lab, k: c.k, accuracy: c.accuracy, balanced: c.balancedAccuracy }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Labelling curve (${r.arch}): held-out accuracy vs own labelled cells per class`,
    width: 520,
    height: 260,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'k', type: 'quantitative', title: 'labelled cells of the lab per class in training' },
      y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, axis: { format: '.0%' }, title: 'accuracy on the rest of the lab' },
      color: { field: 'lab', type: 'nominal', title: 'lab' },
    },
  } as TopLevelSpec;
}

export function labsMarkdown(data: LabsData, models: readonly ModelResult[]): string[] {
  const out: string[] = [];
  if (data.labs.length) {
    out.push('## Labs', '', '| Lab | Cells | Labelled by | Licence |', '|---|--:|---|---|');
    for (const l of data.labs) out.push(`| ${e(l.name)} | ${l.images} | ${e(l.labelledBy)} | ${e(l.licence)} |`);
    out.push('');
  }
  const variants = data.crossLab.some((r) => r.status === 'evaluated') ? trainingVariants(data.augmentation) : null;
  if (variants) out.push(variants, '');
  for (const r of data.crossLab) {
    if (r.status !== 'evaluated') {
      out.push(`Leave-one-lab-out (${r.arch}): ${r.reason ?? 'not evaluated'}`, '');
      continue;
    }
    out.push(`## Leave one lab out (${r.arch}, ${adaptationText(r, true)})`, '');
    const prepared = cellPreparation(models, r.arch);
    if (prepared) out.push(prepared, '');
    out.push(`| Held-out lab | Cells | Accuracy | 95 % CI | Balanced accuracy | Macro-F1 | ${r.classes.map((c) => `${titleCase(c)} recall`).join(' | ')} | Same lab (test split) |`);
    out.push(`|---|--:|--:|--:|--:|--:|${r.classes.map(() => '--:|').join('')}--:|`);
    for (const x of r.heldOut) {
      const sm = headlineHeldOut(r, x);
      const same = sameLabMetrics(models, r.arch, x.lab);
      out.push(`| ${e(x.lab)} | ${sm.n} | ${pct(sm.accuracy)} | ${interval(sm.accuracyCi)} | ${pct(sm.balancedAccuracy)} | ${num(sm.macroF1)} | ${recallCells(sm, r.classes).join(' | ')} | ${same ? pct(same.metrics.accuracy) : NA} |`);
    }
    const m = headlineMean(r);
    out.push(`| mean | | ${pct(m.accuracy)} | | ${pct(m.balancedAccuracy)} | ${num(m.macroF1)} |${r.classes.map(() => ' |').join('')} |`, '');
    const ks = [...new Set(r.curve.map((c) => c.k))].sort((a, b) => a - b);
    out.push(`### Labelling curve (accuracy on the rest of the lab; ${curveSelfTrained(r) ? `self-trained on it at every k${r.curveAnchors ? ', the labelled cells in every round' : ''}` : 'k > 0 as trained'})`, '', `| Lab | ${ks.map((k) => `k = ${k}`).join(' | ')} |`, `|---|${ks.map(() => '--:|').join('')}`);
    for (const lab of [...new Set(r.curve.map((c) => c.lab))]) {
      out.push(`| ${e(lab)} | ${ks.map((k) => { const c = r.curve.find((x) => x.lab === lab && x.k === k); return c && c.accuracy !== null ? `${pct(c.accuracy)} (n=${c.testN})` : NA; }).join(' | ')} |`);
    }
    out.push('');
  }
  return out;
}
