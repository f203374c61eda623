// File names the runner cannot pass on safely: a line break in a name splits it in two in every
// one-name-a-line list ($PIPE_INPUTS, logs), and no output glob matches it (picomatch's `**` stops at
// one), so the file would fail its stage's publish step far from the cause. Such an input is left out
// by name, with a warning, and the rest of the run goes on.

/** What is wrong with a '/'-separated file name, or null when it is fine. */
export function nameProblem(rel: string): string | null {
  if (rel.includes('\n')) return 'a newline';
  if (rel.includes('\r')) return 'a carriage return';
  return null;
}

/** The warning for an input left out: the name as JSON (escapes visible), why, and what to do. */
export function rejectedInputMessage(instanceId: string, rel: string, problem: string): string {
  return `${instanceId}: input ${JSON.stringify(rel)} left out: its name holds ${problem} (rename the file to use it)`;
}
