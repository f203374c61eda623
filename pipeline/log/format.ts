// Shared formatting for loggers and commands.

export function seconds(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  // Round the whole first, so 22 min 59.6 s reads 23 min 0 s, not 22 min 60 s.
  const whole = Math.round(ms / 1000);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

export const OUTCOME_LABEL: Record<string, string> = {
  'up-to-date': 'up to date',
  restored: 'restored',
  ran: 'ran',
  failed: 'FAILED',
  skipped: 'skipped',
  cancelled: 'cancelled',
  'would-run': 'would run',
  'would-restore': 'would restore',
};

export function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
