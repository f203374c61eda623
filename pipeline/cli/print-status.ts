// The status table of a dry run: one line per planned instance and what would happen to it. Its own
// file so that `pipe run --dry-run` and `pipe status` share it without importing each other.
import { OUTCOME_LABEL, pad } from '../log/format.js';
import type { RunResult } from '../exec/run-pipeline.js';

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
