// What a stage host process has used so far: CPU time (its own, plus that of the children it waited for,
// such as a shell stage's command) and its peak resident memory. The host reports it with each finished
// job; the runner adds up an instance's processes and records the total beside the wall time, the way
// Snakemake's `benchmark` files do, so a run can say where its CPU went, not only its minutes.
import { readFileSync } from 'node:fs';

export interface ProcessUsage {
  /** User + system CPU time in milliseconds since the process started, waited-for children included where the OS says. */
  cpuMs: number;
  /** Peak resident set size of the process itself, in KiB. */
  maxRssKb: number;
}

// Clock ticks per second of /proc/<pid>/stat's times: USER_HZ, 100 on every Linux this runs on.
const USER_HZ = 100;

/** CPU time of the children this process has waited for (Linux /proc; 0 elsewhere). */
function waitedChildrenCpuMs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis);
    // cutime and cstime are fields 16 and 17 of the whole line, 14 and 15 of this remainder (1-based).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cutime = Number(rest[13]);
    const cstime = Number(rest[14]);
    return Number.isFinite(cutime) && Number.isFinite(cstime) ? ((cutime + cstime) * 1000) / USER_HZ : 0;
  } catch {
    return 0;
  }
}

export function processUsage(): ProcessUsage {
  const r = process.resourceUsage();
  return { cpuMs: (r.userCPUTime + r.systemCPUTime) / 1000 + waitedChildrenCpuMs(), maxRssKb: r.maxRSS };
}

/** An instance's usage from the last report of each of its processes: CPU times add up, the peak is the largest. */
export function sumUsage(reports: readonly (ProcessUsage | undefined)[]): ProcessUsage | undefined {
  const known = reports.filter((u): u is ProcessUsage => u !== undefined);
  if (known.length === 0) return undefined;
  return { cpuMs: known.reduce((s, u) => s + u.cpuMs, 0), maxRssKb: Math.max(...known.map((u) => u.maxRssKb)) };
}

/** The figures a manifest and the run's log keep: whole milliseconds of CPU, peak memory in MB. */
export function usageFigures(u: ProcessUsage): { cpuMs: number; maxRssMb: number } {
  return { cpuMs: Math.round(u.cpuMs), maxRssMb: Math.round(u.maxRssKb / 1024) };
}
