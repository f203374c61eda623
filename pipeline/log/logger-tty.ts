// Terminal logger: the same lines as the plain logger, with live progress bars for running instances
// kept at the bottom of the screen and redrawn at most ten times a second.
import type { PipeEvent } from './events.js';
import { instanceLine, summaryLine } from './logger-plain.js';
import { pad } from './format.js';

interface Bar {
  done: number;
  total: number;
  label?: string;
  started: number;
}

export function createTtyLogger(out: NodeJS.WriteStream = process.stdout) {
  const bars = new Map<string, Bar>();
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;

  const clear = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
  };
  const draw = () => {
    const width = Math.max(40, (out.columns ?? 80) - 1);
    const lines: string[] = [];
    for (const [id, b] of bars) {
      const frac = b.total > 0 ? Math.min(1, b.done / b.total) : 0;
      const barWidth = 24;
      const filled = Math.round(frac * barWidth);
      const secs = ((Date.now() - b.started) / 1000).toFixed(0);
      const counts = b.total > 0 ? ` ${b.done}/${b.total}` : '';
      lines.push(`${pad(id, 28)} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${counts}${b.label ? ` ${b.label}` : ''} ${secs}s`.slice(0, width));
    }
    clear();
    if (lines.length) out.write(`${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  const above = (text: string) => {
    clear();
    out.write(text.endsWith('\n') ? text : `${text}\n`);
    draw();
  };
  const schedule = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      draw();
    }, 100);
  };

  return (e: PipeEvent): void => {
    switch (e.type) {
      case 'info':
        above(e.message);
        break;
      case 'warn':
        above(`\x1b[33mwarning:\x1b[0m ${e.message}`);
        break;
      case 'instance-start':
        bars.set(e.id, { done: 0, total: 0, started: Date.now() });
        above(`${pad('running', 11)} ${e.id}  [${e.reason}]`);
        break;
      case 'instance-progress': {
        const b = bars.get(e.id) ?? { done: 0, total: 0, started: Date.now() };
        b.done = e.done;
        b.total = e.total;
        if (e.label !== undefined) b.label = e.label;
        bars.set(e.id, b);
        schedule();
        break;
      }
      case 'instance-log':
        above(`\x1b[2m[${e.id}]\x1b[0m ${e.message}`);
        break;
      case 'instance-done': {
        bars.delete(e.id);
        const colour = e.outcome === 'failed' ? '\x1b[31m' : e.outcome === 'ran' ? '\x1b[32m' : e.outcome === 'restored' ? '\x1b[36m' : '';
        above(colour ? `${colour}${instanceLine(e)}\x1b[0m` : instanceLine(e));
        break;
      }
      case 'run-done':
        if (timer) clearTimeout(timer);
        bars.clear();
        above(summaryLine(e));
        break;
      default:
        break;
    }
  };
}
