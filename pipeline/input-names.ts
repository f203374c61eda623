// File names the runner cannot pass on safely: a newline (or another control character) in a name
// splits it in two in every one-name-a-line list ($PIPE_INPUTS, logs) and no output glob matches it.
// Such an input is left out by name, with a warning, instead of failing the whole run later.

const NAMED: Record<string, string> = { '\n': 'a newline', '\r': 'a carriage return', '\t': 'a tab' };

/** What is wrong with a '/'-separated file name, or null when it is fine. */
export function nameProblem(rel: string): string | null {
  const m = /[\u0000-\u001f\u007f]/.exec(rel);
  if (!m) return null;
  const ch = m[0];
  return NAMED[ch] ?? `the control character U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The warning for an input left out: the name as JSON (escapes visible), why, and what to do. */
export function rejectedInputMessage(instanceId: string, rel: string, problem: string): string {
  return `${instanceId}: input ${JSON.stringify(rel)} left out: its name holds ${problem} (rename the file to use it)`;
}
