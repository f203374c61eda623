// `pipe status`: what a run would do and why, without doing it.
import type { Parsed } from './args.js';
import { runPipeline } from '../exec/run-pipeline.js';
import { runOptions } from './cmd-run.js';
import { printStatus } from './print-status.js';

export async function cmdStatus(workspace: string, p: Parsed, argv: string[]): Promise<number> {
  const opts = { ...runOptions(workspace, p, argv), dryRun: true };
  const result = await runPipeline(opts, (e) => {
    if (e.type === 'info' || e.type === 'warn') process.stderr.write(`${e.message}\n`);
  });
  printStatus(result);
  return [...result.results.values()].some((r) => r.outcome === 'failed') ? 1 : 0;
}
