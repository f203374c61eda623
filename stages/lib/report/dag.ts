// The pipeline's DAG as a chart: stages in columns by depth, edges as lines, each box coloured by
// the cache status of this run and labelled with its time.
import type { TopLevelSpec } from 'vega-lite';
import type { Dag, DagNode } from './types.js';
import { duration } from './format.js';

export const STATUS_COLORS: Record<string, string> = {
  ran: '#2563eb',
  cached: '#16a34a',
  restored: '#0d9488',
  built: '#64748b',
  skipped: '#94a3b8',
  failed: '#dc2626',
  running: '#f59e0b',
  unknown: '#cbd5e1',
};

/** Longest-path depth of every node (roots at 0); deps on unknown nodes are ignored. */
export function dagDepths(nodes: readonly DagNode[]): Map<string, number> {
  const byId = new Map(nodes.map((n) => [n.id, n] as const));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) throw new Error(`pipeline DAG has a cycle through "${id}"`);
    visiting.add(id);
    const node = byId.get(id);
    const d = node ? Math.max(-1, ...node.deps.filter((x) => byId.has(x)).map(visit)) + 1 : 0;
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  nodes.forEach((n) => visit(n.id));
  return depth;
}

export function dagSpec(dag: Dag): TopLevelSpec {
  const depths = dagDepths(dag.nodes);
  const rowsPerDepth = new Map<number, number>();
  const pos = new Map<string, { x: number; y: number }>();
  for (const n of dag.nodes) {
    const d = depths.get(n.id) ?? 0;
    const row = rowsPerDepth.get(d) ?? 0;
    rowsPerDepth.set(d, row + 1);
    pos.set(n.id, { x: d, y: row });
  }
  const maxDepth = Math.max(0, ...depths.values());
  const maxRows = Math.max(1, ...rowsPerDepth.values());
  const hw = 0.44;
  const hh = 0.32;
  const boxes = dag.nodes.map((n) => {
    const p = pos.get(n.id)!;
    const status = n.status ?? 'unknown';
    const detail = [n.instances > 1 ? `×${n.instances}` : '', n.seconds !== null ? duration(n.seconds) : '', n.status ?? ''].filter(Boolean).join(' · ');
    return { id: n.id, x: p.x - hw, x2: p.x + hw, y: p.y - hh, y2: p.y + hh, cx: p.x, cy: p.y, status, label: n.label, detail: detail || 'not run' };
  });
  // Each edge is a smooth polyline from the right side of the dep to the left side of the node. An
  // edge that skips columns gets a waypoint per skipped column, moved into the gap between boxes
  // when it would cross one, so lines never run through a stage's label.
  const occupied = new Map<number, number[]>();
  for (const p of pos.values()) occupied.set(p.x, [...(occupied.get(p.x) ?? []), p.y]);
  const edges = dag.nodes.flatMap((n, e) =>
    n.deps.flatMap((dep, k) => {
      const a = pos.get(dep);
      const b = pos.get(n.id);
      if (!a || !b) return [];
      const points = [{ x: a.x + hw, y: a.y }];
      for (let col = a.x + 1; col < b.x; col++) {
        let y = a.y + ((b.y - a.y) * (col - a.x)) / (b.x - a.x);
        const hit = (occupied.get(col) ?? []).find((oy) => Math.abs(oy - y) < hh + 0.08);
        if (hit !== undefined) y = hit + (y >= hit ? 0.5 : -0.5);
        points.push({ x: col - hw - 0.05, y }, { x: col + hw + 0.05, y });
      }
      points.push({ x: b.x - hw, y: b.y });
      return points.map((p, i) => ({ edge: `${e}-${k}`, i, x: p.x, y: p.y }));
    }),
  );
  const x = { type: 'quantitative' as const, scale: { domain: [-0.5, maxDepth + 0.5] }, axis: null };
  const y = { type: 'quantitative' as const, scale: { domain: [maxRows - 0.5, -0.5] }, axis: null };
  const statuses = Object.keys(STATUS_COLORS);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Pipeline DAG (colour: status; time summed over a stage’s instances)',
    width: 148 * (maxDepth + 1),
    height: 64 * maxRows,
    view: { stroke: null },
    layer: [
      {
        data: { values: edges },
        mark: { type: 'line', color: '#94a3b8', strokeWidth: 1.2, interpolate: 'monotone' },
        encoding: { x: { field: 'x', ...x }, y: { field: 'y', ...y }, detail: { field: 'edge', type: 'nominal' }, order: { field: 'i', type: 'quantitative' } },
      },
      {
        data: { values: boxes },
        mark: { type: 'rect', cornerRadius: 5, opacity: 0.16, stroke: null },
        encoding: {
          x: { field: 'x', ...x }, x2: { field: 'x2' }, y: { field: 'y', ...y }, y2: { field: 'y2' },
          fill: { field: 'status', type: 'nominal', scale: { domain: statuses, range: statuses.map((s) => STATUS_COLORS[s]!) }, title: 'status' },
        },
      },
      {
        data: { values: boxes },
        mark: { type: 'rect', cornerRadius: 5, fillOpacity: 0, strokeWidth: 1.4 },
        encoding: {
          x: { field: 'x', ...x }, x2: { field: 'x2' }, y: { field: 'y', ...y }, y2: { field: 'y2' },
          stroke: { field: 'status', type: 'nominal', scale: { domain: statuses, range: statuses.map((s) => STATUS_COLORS[s]!) }, legend: null },
        },
      },
      { data: { values: boxes }, mark: { type: 'text', dy: -7, fontWeight: 600, fontSize: 11, color: '#0f172a' }, encoding: { x: { field: 'cx', ...x }, y: { field: 'cy', ...y }, text: { field: 'label' } } },
      { data: { values: boxes }, mark: { type: 'text', dy: 8, fontSize: 10, color: '#334155' }, encoding: { x: { field: 'cx', ...x }, y: { field: 'cy', ...y }, text: { field: 'detail' } } },
    ],
  } as unknown as TopLevelSpec;
}
