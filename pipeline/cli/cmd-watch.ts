// `pipe watch [targets…]`: keep the targets' results current while files change.
import type { FlagSpec, Parsed } from './args.js';
import { UsageError } from './args.js';
import { runFlags, runOptions } from './cmd-run.js';
import { WatchSession } from '../watch/watch-session.js';

export const watchFlags: FlagSpec[] = [
  { name: 'until', type: 'string', value: 'stage', help: 'stop each cycle at this stage (same as naming it as the target), e.g. --until audit' },
  { name: 'debounce', type: 'string', value: 'ms', help: 'quiet time that closes a batch of changes (default 300)' },
  { name: 'cycles', type: 'string', value: 'N', help: 'exit after N cycles (the initial run is cycle 1)' },
  ...runFlags.filter((f) => ['jobs', 'keep-going', 'set', 'profile', 'gpus', 'executor', 'remote-cache', 'no-remote-cache'].includes(f.name)),
];

function positiveInt(p: Parsed, name: string, fallback: number | undefined, allowZero = false): number | undefined {
  const v = p.flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new UsageError(`--${name} needs a ${allowZero ? 'non-negative' : 'positive'} integer, got ${String(v)}`);
  return n;
}

export async function cmdWatch(workspace: string, p: Parsed, argv: string[]): Promise<number> {
  const run = runOptions(workspace, p, argv);
  if (typeof p.flags.until === 'string') {
    if (run.targets?.length) throw new UsageError('give either targets or --until, not both');
    run.targets = [p.flags.until];
  }
  const debounceMs = positiveInt(p, 'debounce', 300, true)!;
  const cycles = positiveInt(p, 'cycles', undefined);
  const session = new WatchSession({ run, debounceMs, ...(cycles !== undefined ? { cycles } : {}), write: (t) => process.stdout.write(t) });
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\nstopping: cancelling running stages (Ctrl-C again to quit at once)\n');
    void session.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await session.start();
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
