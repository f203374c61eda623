// Vega-Lite specs of the report's charts. Each builder takes plain data and returns a spec with
// the data inline; vega-svg.ts turns it into SVG at build time, so the page loads nothing.
import type { TopLevelSpec } from 'vega-lite';
import type { ModelResult, OriginalStudy, SplitCounts } from './types.js';
import { titleCase } from './format.js';

const MODE_COLORS = { domain: ['transfer', 'finetune', 'scratch', 'ensemble'], range: ['#2563eb', '#7c3aed', '#ea580c', '#059669'] };
const PCT_AXIS = { format: '.0%', grid: true };

function evaluated(models: ModelResult[]): ModelResult[] {
  return models.filter((m) => m.metrics?.status === 'evaluated' && m.metrics.test);
}

/** Same-source test accuracy with its 95 % interval per model, with the original study's figure where published. */
export function studyAccuracySpec(models: ModelResult[], original: OriginalStudy): TopLevelSpec {
  const rows = evaluated(models).map((m) => ({
    model: m.label,
    mode: m.mode,
    accuracy: m.metrics!.test!.accuracy,
    low: m.metrics!.test!.accuracyCi?.low ?? null,
    high: m.metrics!.test!.accuracyCi?.high ?? null,
  }));
  const published = models.flatMap((m) => {
    const o = original.results.find((r) => r.arch === m.arch && r.mode === m.mode && r.accuracy !== null);
    return o ? [{ model: m.label, accuracy: o.accuracy, what: 'original study (published)' }] : [];
  });
  // Study order, over the models with a measured or a published accuracy.
  const shown = new Set([...rows.map((r) => r.model), ...published.map((p) => p.model)]);
  const order = models.map((m) => m.label).filter((l) => shown.has(l));
  const y = { field: 'model', type: 'nominal' as const, sort: order, title: null, axis: { labelLimit: 260 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Same-source test accuracy (95 % bootstrap interval)',
    width: 520,
    height: { step: 26 },
    layer: [
      {
        data: { values: rows },
        mark: { type: 'rule', strokeWidth: 2.5, opacity: 0.55 },
        encoding: { y, x: { field: 'low', type: 'quantitative', scale: { domain: [0, 1] }, axis: PCT_AXIS, title: 'accuracy' }, x2: { field: 'high' }, color: { field: 'mode', type: 'nominal', scale: MODE_COLORS } },
      },
      {
        data: { values: rows },
        mark: { type: 'point', filled: true, size: 70 },
        encoding: { y, x: { field: 'accuracy', type: 'quantitative' }, color: { field: 'mode', type: 'nominal', scale: MODE_COLORS, title: 'mode' } },
      },
      {
        data: { values: published },
        mark: { type: 'point', shape: 'diamond', size: 90, filled: false, strokeWidth: 1.5, color: '#111827' },
        encoding: { y, x: { field: 'accuracy', type: 'quantitative' }, shape: { field: 'what', type: 'nominal', title: null, scale: { range: ['diamond'] }, legend: { labelLimit: 240 } } },
      },
    ],
  } as TopLevelSpec;
}

/** Accuracy on the same-source test split beside every shifted-source set, per model. */
export function crossSourceSpec(models: ModelResult[], primarySource: string, shiftedSources: string[]): TopLevelSpec {
  const sources = [primarySource, ...shiftedSources];
  const rows = evaluated(models).flatMap((m) =>
    sources.flatMap((s) => {
      const sm = m.metrics!.sources[s];
      if (!sm || sm.accuracy === null) return [];
      return [{ model: m.label, source: s === primarySource ? `${s} (same source)` : s, accuracy: sm.accuracy, low: sm.accuracyCi?.low ?? sm.accuracy, high: sm.accuracyCi?.high ?? sm.accuracy }];
    }),
  );
  const sourceLabels = sources.map((s) => (s === primarySource ? `${s} (same source)` : s));
  const color = { field: 'source', type: 'nominal' as const, sort: sourceLabels, scale: { domain: sourceLabels, scheme: 'tableau10' }, title: 'test set' };
  const y = { field: 'model', type: 'nominal' as const, title: null, sort: evaluated(models).map((m) => m.label), axis: { labelLimit: 260 } };
  const yOffset = { field: 'source', type: 'nominal' as const, sort: sourceLabels };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Same-source vs shifted-source accuracy (95 % bootstrap interval)',
    width: 520,
    height: { step: Math.max(26, 9 * sources.length) },
    data: { values: rows },
    layer: [
      { mark: { type: 'rule', strokeWidth: 2, opacity: 0.5 }, encoding: { y, yOffset, x: { field: 'low', type: 'quantitative', scale: { domain: [0, 1] }, axis: PCT_AXIS, title: 'accuracy' }, x2: { field: 'high' }, color } },
      { mark: { type: 'point', filled: true, size: 45 }, encoding: { y, yOffset, x: { field: 'accuracy', type: 'quantitative' }, color } },
    ],
  } as TopLevelSpec;
}

/** Training and validation curves of one quantity (accuracy or loss), one small panel per model. */
export function trainingCurvesSpec(models: ModelResult[], quantity: 'accuracy' | 'loss'): TopLevelSpec {
  const withHistory = models.filter((m) => m.history.length > 0);
  const rows: Record<string, unknown>[] = withHistory.flatMap((m) =>
    m.history.flatMap((h) => {
      const train = quantity === 'accuracy' ? h.accuracy : h.loss;
      const val = quantity === 'accuracy' ? h.valAccuracy : h.valLoss;
      const out: Record<string, unknown>[] = [];
      if (typeof train === 'number' && Number.isFinite(train)) out.push({ kind: 'curve', model: m.label, epoch: h.epoch, set: 'training', value: train });
      if (typeof val === 'number' && Number.isFinite(val)) out.push({ kind: 'curve', model: m.label, epoch: h.epoch, set: 'validation', value: val });
      return out;
    }),
  );
  for (const m of withHistory) {
    if (typeof m.train?.bestEpoch === 'number') rows.push({ kind: 'best', model: m.label, epoch: m.train.bestEpoch });
    // A later phase (finetune after transfer) starts where the previous one ended: mark the boundary.
    m.history.forEach((h, i) => {
      const prev = m.history[i - 1];
      if (prev && h.phase !== prev.phase) rows.push({ kind: 'phase', model: m.label, epoch: prev.epoch + 0.5, phase: h.phase ?? '' });
    });
  }
  const curves = rows.filter((r) => r.kind === 'curve').length;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Training curves: ${quantity} (dashed line: kept epoch; purple line: next training phase)`,
    data: { values: rows },
    facet: { field: 'model', type: 'nominal', title: null, sort: withHistory.map((m) => m.label) },
    columns: 3,
    spec: {
      width: 200,
      height: 120,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'curve'" }],
          mark: { type: 'line', point: curves < 240 ? { size: 14 } : false, strokeWidth: 1.6 },
          encoding: {
            x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
            y: { field: 'value', type: 'quantitative', title: quantity, ...(quantity === 'accuracy' ? { scale: { domain: [0, 1] }, axis: { format: '.0%' } } : {}) },
            color: { field: 'set', type: 'nominal', scale: { domain: ['training', 'validation'], range: ['#2563eb', '#dc2626'] }, title: null },
          },
        },
        { transform: [{ filter: "datum.kind === 'best'" }], mark: { type: 'rule', strokeDash: [4, 3], color: '#64748b' }, encoding: { x: { field: 'epoch', type: 'quantitative' } } },
        { transform: [{ filter: "datum.kind === 'phase'" }], mark: { type: 'rule', color: '#a855f7', strokeWidth: 1 }, encoding: { x: { field: 'epoch', type: 'quantitative' } } },
        {
          transform: [{ filter: "datum.kind === 'phase'" }],
          mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, y: 2, fontSize: 10, color: '#7e22ce' },
          encoding: { x: { field: 'epoch', type: 'quantitative' }, text: { field: 'phase' } },
        },
      ],
    },
    resolve: { scale: { y: quantity === 'loss' ? 'independent' : 'shared' } },
  } as unknown as TopLevelSpec;
}

/** One model's confusion matrix: colour is the row share (recall per true class), text the count. */
export function confusionSpec(model: ModelResult, source: string): TopLevelSpec {
  const sm = model.metrics?.sources[source];
  const classes = sm?.confusion.classes ?? [];
  const rows = (sm?.confusion.counts ?? []).flatMap((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((count, j) => ({ true: titleCase(classes[i] ?? ''), predicted: titleCase(classes[j] ?? ''), count, share: total === 0 ? 0 : count / total }));
  });
  const order = classes.map(titleCase);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: model.label, subtitle: `${source}: n = ${sm?.n ?? 0}, accuracy ${sm?.accuracy === null || sm?.accuracy === undefined ? 'n/a' : (sm.accuracy * 100).toFixed(1) + ' %'}` },
    width: 180,
    height: 180,
    data: { values: rows },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: order, axis: { labelAngle: -35 }, title: 'predicted' },
      y: { field: 'true', type: 'nominal', sort: order, title: 'true' },
    },
    layer: [
      { mark: { type: 'rect', stroke: 'white', strokeWidth: 1 }, encoding: { color: { field: 'share', type: 'quantitative', scale: { domain: [0, 1], scheme: 'blues' }, legend: null } } },
      {
        mark: { type: 'text', fontSize: 12, fontWeight: 600 },
        encoding: { text: { field: 'count', type: 'quantitative' }, color: { condition: { test: 'datum.share > 0.55', value: 'white' }, value: '#0f172a' } },
      },
    ],
  } as TopLevelSpec;
}

/** Recall of every class per model on the same-source test split. */
export function perClassRecallSpec(models: ModelResult[], classes: string[]): TopLevelSpec {
  const rows = evaluated(models).flatMap((m) =>
    m.metrics!.test!.perClass.map((c) => ({ model: m.label, class: titleCase(c.class), recall: c.recall, f1: c.f1 })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Per-class recall, same-source test split (text: F1)',
    width: { step: 92 },
    height: { step: 24 },
    data: { values: rows },
    encoding: {
      x: { field: 'class', type: 'nominal', sort: classes.map(titleCase), axis: { orient: 'top', labelAngle: 0 }, title: null },
      y: { field: 'model', type: 'nominal', sort: evaluated(models).map((m) => m.label), title: null, axis: { labelLimit: 260 } },
    },
    layer: [
      { mark: { type: 'rect', stroke: 'white' }, encoding: { color: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1], scheme: 'greens' }, title: 'recall', legend: { format: '.0%' } } } },
      { mark: { type: 'text', fontSize: 11 }, encoding: { text: { field: 'f1', type: 'quantitative', format: '.2f' }, color: { condition: { test: 'datum.recall > 0.6', value: 'white' }, value: '#0f172a' } } },
    ],
  } as TopLevelSpec;
}

/** Images per split and class. */
export function datasetSpec(split: SplitCounts, classes: string[]): TopLevelSpec {
  const splits = Object.keys(split.counts);
  const rows = splits.flatMap((s) => Object.entries(split.counts[s] ?? {}).map(([c, n]) => ({ split: s, class: titleCase(c), images: n })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Images per split and class',
    width: 420,
    height: { step: 30 },
    data: { values: rows },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'split', type: 'nominal', sort: splits, title: null },
      x: { field: 'images', type: 'quantitative', stack: 'zero', title: 'images' },
      color: { field: 'class', type: 'nominal', sort: classes.map(titleCase), scale: { scheme: 'set2' }, title: 'class' },
      tooltip: [{ field: 'split' }, { field: 'class' }, { field: 'images' }],
    },
  } as TopLevelSpec;
}
