// Line-by-line logger (not a TTY, CI, `--plain`): one line per finished instance, stage log lines
// prefixed with their instance, progress reported at most every few seconds.
import type { PipeEvent } from './events.js';
import { OUTCOME_LABEL, pad, seconds } from './format.js';

export function instanceLine(e: Extract<PipeEvent, { type: 'instance-done' }>): string {
  const items = e.items ? `  (items: ${e.items.ran} ran, ${e.items.cached} cached${e.items.removed ? `, ${e.items.removed} removed` : ''}${e.items.unwanted ? `, ${e.items.unwanted} not wanted` : ''})` : '';
  const why = e.detail && e.outcome !== 'failed' && e.outcome !== 'up-to-date' ? `  [${e.detail}]` : '';
  const usage = e.cpuMs !== undefined ? `  (cpu ${seconds(e.cpuMs)}${e.maxRssMb !== undefined ? `, peak ${e.maxRssMb} MB` : ''})` : '';
  let line = `${pad(OUTCOME_LABEL[e.outcome] ?? e.outcome, 11)} ${e.id}  ${seconds(e.ms)}${usage}${items}${why}`;
  if (e.outcome === 'failed' && e.detail) line += `\n${e.detail.split('\n').map((l) => `    ${l}`).join('\n')}`;
  return line;
}

export function summaryLine(e: Extract<PipeEvent, { type: 'run-done' }>): string {
  const parts = Object.entries(e.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${OUTCOME_LABEL[k] ?? k}`);
  return `${e.ok ? 'done' : 'FAILED'}: ${parts.join(', ') || 'nothing to do'} in ${seconds(e.ms)}${e.cpuMs !== undefined ? ` (stage cpu ${seconds(e.cpuMs)})` : ''}`;
}

export function createPlainLogger(out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr) {
  const lastProgress = new Map<string, number>();
  return (e: PipeEvent): void => {
    switch (e.type) {
      case 'info':
        out.write(`${e.message}\n`);
        break;
      case 'warn':
        err.write(`warning: ${e.message}\n`);
        break;
      case 'instance-start':
        out.write(`${pad('running', 11)} ${e.id}  [${e.reason}]\n`);
        break;
      case 'instance-log':
        (e.level === 'warn' ? err : out).write(`[${e.id}] ${e.message}\n`);
        break;
      case 'instance-progress': {
        const now = Date.now();
        if (e.done < e.total && now - (lastProgress.get(e.id) ?? 0) < 5000) break;
        lastProgress.set(e.id, now);
        if (e.total > 0) out.write(`[${e.id}] ${e.done}/${e.total}${e.label ? ` ${e.label}` : ''}\n`);
        break;
      }
      case 'instance-done':
        out.write(`${instanceLine(e)}\n`);
        break;
      case 'run-done':
        out.write(`${summaryLine(e)}\n`);
        break;
      default:
        break;
    }
  };
}
