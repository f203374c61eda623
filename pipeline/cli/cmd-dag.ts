// `pipe dag [--mermaid] [--stages]`: the instance graph as indented text or a Mermaid flowchart.
import type { Parsed } from './args.js';
import { loadConfig } from '../config/config-load.js';
import { buildPlan, selectTargets } from '../config/plan.js';

export async function cmdDag(workspace: string, p: Parsed, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const loaded = await loadConfig(workspace);
  const plan = buildPlan(loaded, { ...(typeof p.flags.profile === 'string' ? { profile: p.flags.profile } : {}), set: (p.flags.set as string[] | undefined) ?? [] });
  const selected = selectTargets(plan, p.positional);
  const stagesOnly = p.flags.stages === true;
  const nodes = stagesOnly ? [...new Set(selected.map((i) => i.stage.id))] : selected.map((i) => i.id);
  const edges = new Set<string>();
  for (const inst of selected) {
    for (const d of inst.deps) {
      const from = stagesOnly ? plan.instances.get(d)!.stage.id : d;
      const to = stagesOnly ? inst.stage.id : inst.id;
      edges.add(`${from}\u0000${to}`);
    }
  }
  if (p.flags.mermaid === true) {
    const idx = new Map(nodes.map((n, i) => [n, `n${i}`]));
    out.write('flowchart TD\n');
    for (const n of nodes) out.write(`  ${idx.get(n)}["${n.replace(/"/g, '#quot;')}"]\n`);
    for (const e of edges) {
      const [a, b] = e.split('\u0000') as [string, string];
      out.write(`  ${idx.get(a)} --> ${idx.get(b)}\n`);
    }
    return 0;
  }
  if (loaded.config.description) out.write(`${loaded.config.description}\n\n`);
  for (const n of nodes) {
    const deps = [...edges].filter((e) => e.endsWith(`\u0000${n}`)).map((e) => e.split('\u0000')[0]);
    const stage = stagesOnly ? loaded.config.stages.find((s) => s.id === n) : plan.instances.get(n)!.stage;
    const kind = stage?.module ? (stage.perItem ? 'per-item module' : 'module') : 'command';
    out.write(`${n}  (${kind})\n`);
    for (const d of deps) out.write(`  ← ${d}\n`);
  }
  return 0;
}
