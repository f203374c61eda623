// `pipe explain <instance>`: the instance's key now versus the key of its last published run, field by field.
import type { Parsed } from './args.js';
import { UsageError } from './args.js';
import { diffKeyFields } from '../keys/key-diff.js';
import { runPipeline } from '../exec/run-pipeline.js';
import { runOptions } from './cmd-run.js';
import { CurrentState } from '../store/current-state.js';
import { WorkspacePaths } from '../store/paths.js';
import { Store } from '../store/store.js';

export async function cmdExplain(workspace: string, p: Parsed, argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const id = p.positional[0];
  if (!id || p.positional.length > 1) throw new UsageError('pipe explain needs exactly one instance id, e.g. pipe explain "train[arch=vgg16,mode=transfer]"');
  const opts = { ...runOptions(workspace, { ...p, positional: [id] }, argv), dryRun: true };
  const result = await runPipeline(opts, () => {});
  const matches = result.plan.order.filter((i) => i.id === id || i.stage.id === id);
  if (matches.length !== 1) {
    const list = result.plan.byStage.get(id)?.map((i) => i.id) ?? [];
    throw new UsageError(list.length ? `${id} has ${list.length} instances; name one: ${list.join(', ')}` : `unknown instance ${id}`);
  }
  const inst = matches[0]!;
  const r = result.results.get(inst.id)!;
  const ws = new WorkspacePaths(workspace);
  const entry = new CurrentState(ws).get(inst.id);
  const last = entry ? new Store(ws).readManifest(entry.key) : undefined;
  out.write(`${inst.id}\n`);
  if (!r.fields) {
    out.write(`  ${r.outcome === 'failed' ? `cannot compute its key: ${r.detail}` : `its key depends on ${r.detail?.replace(/^dependency /, '').replace(/ will run$/, '')}, which will run first; explain that one`}\n`);
    return 0;
  }
  out.write(`  key now:      ${r.key}\n`);
  out.write(`  last run:     ${entry ? `${entry.key}${last ? ` (${last.createdAt}, took ${(last.durationMs / 1000).toFixed(2)} s${last.cpuMs !== undefined ? `, cpu ${(last.cpuMs / 1000).toFixed(2)} s` : ''}${last.maxRssMb !== undefined ? `, peak ${last.maxRssMb} MB` : ''})` : ''}` : 'never ran'}\n`);
  out.write(`  status:       ${r.outcome}${r.detail ? ` (${r.detail})` : ''}\n`);
  if (!last) return 0;
  if (last.key === r.key) {
    out.write('  no field changed\n');
    return 0;
  }
  out.write('  changed:\n');
  for (const line of diffKeyFields(last.fields, r.fields, 50)) out.write(`    ${line}\n`);
  return 0;
}
