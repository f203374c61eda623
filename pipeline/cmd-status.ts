// `pipe status`: what a run would do and why, without doing it.
import type { Parsed } from './args.js';
import { OUTCOME_LABEL, pad } from './format.js';
import { runPipeline, type RunResult } from './run-pipeline.js';
import { runOptions } from './cmd-run.js';

export function printStatus(result: RunResult, out: NodeJS.WritableStream = process.stdout): void {
  let pending = 0;
  for (const inst of result.plan.order) {
    const r = result.results.get(inst.id);
    if (!r) continue;
    if (r.outcome !== 'up-to-date') pending++;
    const why = r.detail && r.outcome !== 'up-to-date' ? `  [${r.detail.split('\n')[0]}]` : '';
    out.write(`${pad(OUTCOME_LABEL[r.outcome] ?? r.outcome, 13)} ${inst.id}${why}\n`);
  }
  out.write(pending === 0 ? 'everything is up to date\n' : `${pending} instance(s) would change\n`);
}

export async function cmdStatus(workspace: string, p: Parsed, argv: string[]): Promise<number> {
  const opts = { ...runOptions(workspace, p, argv), dryRun: true };
  const result = await runPipeline(opts, (e) => {
    if (e.type === 'info' || e.type === 'warn') process.stderr.write(`${e.message}\n`);
  });
  printStatus(result);
  return [...result.results.values()].some((r) => r.outcome === 'failed') ? 1 : 0;
}
