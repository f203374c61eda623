// One `pipe run` per workspace: .pipe/lock holds the owner's pid, with the boot it ran in and the pid's
// start time. A second run waits (or refuses with --no-wait); a lock whose process is gone (killed run)
// is taken over, and so is one whose pid now names another process (after a reboot or a container
// restart pids are reused): a different boot id, or the pid started at another time than recorded.
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { PipelineError } from '../config/errors.js';
import { tmpSuffix } from './fs-atomic.js';

interface LockInfo {
  pid: number;
  host: string;
  since: string;
  command: string;
  /** /proc/sys/kernel/random/boot_id of the holder's boot (absent in locks of older versions). */
  boot?: string;
  /** The holder pid's start time (/proc/<pid>/stat field 22, clock ticks since boot). */
  started?: string;
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

function startTime(pid: number): string | undefined {
  try {
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote the lock still runs (not merely some process with its pid). */
function holderAlive(holder: LockInfo, boot: string | undefined): boolean {
  if (!pidAlive(holder.pid)) return false;
  if (holder.boot && boot && holder.boot !== boot) return false;
  if (holder.started) {
    const now = startTime(holder.pid);
    if (now !== undefined && now !== holder.started) return false;
  }
  return true;
}

/** Whether some process has this pid (EPERM: it exists, owned by another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function read(file: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

export interface LockHandle {
  release(): void;
}

export async function acquireLock(
  file: string,
  opts: { wait: boolean; command: string; onWait?: (holder: LockInfo) => void; onTakeover?: (holder: LockInfo) => void; signal?: AbortSignal },
): Promise<LockHandle> {
  mkdirSync(dirname(file), { recursive: true });
  const boot = bootId();
  const started = startTime(process.pid);
  const mine: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command: opts.command, ...(boot ? { boot } : {}), ...(started ? { started } : {}) };
  let told = false;
  for (;;) {
    // Written aside, then hard-linked into place: the lock appears with its content or not at all.
    const tmp = `${file}.new-${tmpSuffix()}`;
    writeFileSync(tmp, JSON.stringify(mine));
    try {
      linkSync(tmp, file);
      rmSync(tmp, { force: true });
      return { release: () => { if (read(file)?.pid === process.pid) rmSync(file, { force: true }); } };
    } catch (e) {
      rmSync(tmp, { force: true });
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = read(file);
    if (!holder || (holder.host === mine.host && !holderAlive(holder, boot))) {
      // Stale (or half-written) lock: move it aside atomically so only one taker wins.
      const aside = `${file}.stale-${tmpSuffix()}`;
      try {
        renameSync(file, aside);
        const moved = read(aside);
        if (holder && moved && (moved.pid !== holder.pid || moved.since !== holder.since)) {
          // Another taker was faster and this is its fresh lock: put it back and wait our turn.
          try {
            linkSync(aside, file);
          } catch {}
        } else if (holder) opts.onTakeover?.(holder);
        rmSync(aside, { force: true });
      } catch {}
      continue;
    }
    if (!opts.wait) {
      throw new PipelineError(`another pipe run (pid ${holder.pid}, since ${holder.since}: ${holder.command}) holds ${file}; wait for it, or run without --no-wait to queue`, 3);
    }
    if (!told) opts.onWait?.(holder);
    told = true;
    if (opts.signal?.aborted) throw new PipelineError('cancelled while waiting for the workspace lock; nothing was run', 130);
    await new Promise<void>((r) => {
      const t = setTimeout(r, 200);
      opts.signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
    });
    if (opts.signal?.aborted) throw new PipelineError('cancelled while waiting for the workspace lock; nothing was run', 130);
  }
}
