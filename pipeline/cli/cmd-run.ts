// `pipe run [targets…]`
import type { FlagSpec, Parsed } from './args.js';
import { parseGpuFlag } from '../exec/gpus.js';
import { createPlainLogger } from '../log/logger-plain.js';
import { createTtyLogger } from '../log/logger-tty.js';
import { printStatus } from './print-status.js';
import { startRun, type RunOptions } from '../exec/run-pipeline.js';
import { UsageError } from './args.js';

export const runFlags: FlagSpec[] = [
  { name: 'dry-run', alias: 'n', type: 'bool', help: 'show what would run or be restored, and why; change nothing' },
  { name: 'force', type: 'list', value: 'stage|instance', help: 'run it even if up to date (repeatable)' },
  { name: 'jobs', alias: 'j', type: 'string', value: 'N', help: 'parallel job slots (default: number of cores)' },
  { name: 'keep-going', alias: 'k', type: 'bool', help: 'after a failure, let independent instances finish' },
  { name: 'set', type: 'list', value: 'stage.key=value', help: 'override a param (JSON value, else string; repeatable; after --profile)' },
  { name: 'profile', type: 'string', value: 'name', help: 'apply a named profile from pipeline.json' },
  { name: 'gpus', type: 'string', value: 'N|ids', help: 'GPU devices to use (e.g. 2 or 0,3; 0 = none); default: nvidia-smi -L' },
  { name: 'no-wait', type: 'bool', help: 'fail at once if another pipe run holds this workspace' },
  { name: 'plain', type: 'bool', help: 'line-by-line output even on a terminal' },
  { name: 'executor', type: 'string', value: 'local|slurm', help: 'where instances run (default: pipeline.json executor.default, else local)' },
  { name: 'remote-cache', type: 'string', value: 'url', help: 'shared cache (Bazel HTTP layout) replacing pipeline.json remoteCache.url' },
  { name: 'no-remote-cache', type: 'bool', help: 'do not ask or fill the remote cache this time' },
];

export function runOptions(workspace: string, p: Parsed, argv: string[]): RunOptions {
  const jobs = p.flags.jobs !== undefined ? Number(p.flags.jobs) : undefined;
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) throw new UsageError(`--jobs needs a positive integer, got ${String(p.flags.jobs)}`);
  const executor = p.flags.executor;
  if (executor !== undefined && executor !== 'local' && executor !== 'slurm') throw new UsageError(`--executor is local or slurm, got ${String(executor)}`);
  return {
    workspace,
    targets: p.positional,
    dryRun: p.flags['dry-run'] === true,
    force: (p.flags.force as string[] | undefined) ?? [],
    ...(jobs !== undefined ? { jobs } : {}),
    keepGoing: p.flags['keep-going'] === true,
    set: (p.flags.set as string[] | undefined) ?? [],
    ...(typeof p.flags.profile === 'string' ? { profile: p.flags.profile } : {}),
    ...(typeof p.flags.gpus === 'string' ? { gpus: parseGpuFlag(p.flags.gpus) } : {}),
    wait: p.flags['no-wait'] !== true,
    commandLine: `pipe ${argv.join(' ')}`,
    ...(executor !== undefined ? { executor } : {}),
    ...(p.flags['no-remote-cache'] === true ? { remoteCache: false as const } : typeof p.flags['remote-cache'] === 'string' ? { remoteCache: p.flags['remote-cache'] } : {}),
  };
}

export async function cmdRun(workspace: string, p: Parsed, argv: string[]): Promise<number> {
  const opts = runOptions(workspace, p, argv);
  const tty = process.stdout.isTTY && p.flags.plain !== true && !process.env.CI;
  const log = tty ? createTtyLogger() : createPlainLogger();
  const handle = startRun(opts, (e) => {
    if (opts.dryRun && e.type === 'run-done') return;
    log(e);
  });
  let interrupted = 0;
  const onSigint = () => {
    interrupted++;
    if (interrupted > 1) process.exit(130);
    process.stderr.write('\ninterrupted: cancelling running stages (Ctrl-C again to quit at once)\n');
    handle.cancelAll();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const result = await handle.done;
    if (opts.dryRun) {
      printStatus(result);
      // An instance that cannot even be planned (missing module, inputs matching nothing) fails the dry run.
      return [...result.results.values()].some((r) => r.outcome === 'failed') ? 1 : 0;
    }
    return interrupted ? 130 : result.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}
