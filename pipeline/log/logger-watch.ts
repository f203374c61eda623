// `pipe watch` output: one compact block per cycle (what changed, what ran, what was restored,
// findings stages reported as warnings), instead of a scroll of per-instance lines.
import type { PipeEvent } from './events.js';
import { seconds } from './format.js';

export interface ChangeSummary {
  added: string[];
  changed: string[];
  removed: string[];
}

/** Collects one cycle's events and renders them as a block. */
export class CycleReport {
  private ran: string[] = [];
  private restored: string[] = [];
  private cancelled: string[] = [];
  private failed: string[] = [];
  private skipped = 0;
  private upToDate = 0;
  private findings: string[] = [];
  private lastLog = new Map<string, string>();

  /** `headline(id)`: whether an instance's last log line sums up the cycle (the targets, e.g. the audit). */
  constructor(readonly cycle: number, readonly changes: ChangeSummary | undefined, private readonly headline: (id: string) => boolean = () => false) {}

  onEvent(e: PipeEvent): void {
    if (e.type === 'instance-log' && e.level === 'log' && this.headline(e.id)) this.lastLog.set(e.id, e.message);
    if (e.type === 'instance-log' && e.level === 'warn') this.findings.push(`[${e.id}] ${e.message}`);
    if (e.type === 'warn') this.findings.push(e.message);
    if (e.type !== 'instance-done') return;
    const items = e.items ? ` (${e.items.ran} item${e.items.ran === 1 ? '' : 's'}${e.items.removed ? `, ${e.items.removed} removed` : ''})` : '';
    if (e.outcome === 'ran') this.ran.push(`${e.id}${items}`);
    else if (e.outcome === 'restored') this.restored.push(e.id);
    else if (e.outcome === 'cancelled') this.cancelled.push(e.id);
    else if (e.outcome === 'failed') this.failed.push(`${e.id}: ${(e.detail ?? '').split('\n')[0]}`);
    else if (e.outcome === 'skipped') this.skipped++;
    else this.upToDate++;
  }

  render(outcome: { ok: boolean; ms: number; error?: string }): string {
    const time = new Date().toISOString().slice(11, 19);
    const lines = [`── cycle ${this.cycle} · ${time} · ${describeChanges(this.changes)}`];
    if (outcome.error) lines.push(...outcome.error.split('\n').map((l) => `   ${l}`));
    if (this.ran.length) lines.push(`   ran: ${this.ran.join(', ')}`);
    if (this.restored.length) lines.push(`   restored: ${this.restored.join(', ')}`);
    if (this.cancelled.length) lines.push(`   cancelled (inputs changed, scheduled again): ${this.cancelled.join(', ')}`);
    for (const f of this.failed) lines.push(`   FAILED ${f}`);
    const rest = [this.upToDate ? `${this.upToDate} up to date` : '', this.skipped ? `${this.skipped} skipped` : ''].filter(Boolean);
    if (rest.length) lines.push(`   ${rest.join(', ')}`);
    for (const [id, msg] of this.lastLog) lines.push(`   ${id}: ${msg}`);
    const shown = this.findings.slice(0, 6);
    for (const f of shown) lines.push(`   ! ${f}`);
    if (this.findings.length > shown.length) lines.push(`   ! … ${this.findings.length - shown.length} more`);
    lines.push(`   cycle ${this.cycle} ${outcome.error ? 'not run' : outcome.ok ? 'ok' : 'incomplete'} in ${seconds(outcome.ms)}`);
    return `${lines.join('\n')}\n`;
  }
}

function describeChanges(c: ChangeSummary | undefined): string {
  if (!c) return 'initial run';
  const all = [...c.added.map((p) => `+${p}`), ...c.changed.map((p) => `~${p}`), ...c.removed.map((p) => `-${p}`)];
  const counts = [c.added.length ? `${c.added.length} added` : '', c.changed.length ? `${c.changed.length} changed` : '', c.removed.length ? `${c.removed.length} removed` : ''].filter(Boolean).join(', ');
  return `${counts}: ${all.slice(0, 3).join(' ')}${all.length > 3 ? ` …(+${all.length - 3})` : ''}`;
}
