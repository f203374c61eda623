// Shared formatting for loggers and commands.

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
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
