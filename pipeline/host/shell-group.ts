// Runs a command stage's `bash -c` in a process group of its own, so that the shell and everything it
// starts can be killed together, and ties that group's life to this process: a small guard process
// reads a pipe from us and, when the pipe closes (we exited, or were killed — even by kill -9), kills
// the whole group. No orphan keeps writing into the stage's $PIPE_STATE after its host is gone.
import { spawn, type ChildProcess } from 'node:child_process';

// The guard ignores the terminal's signals (Ctrl-C reaches the runner, which cancels through us) and
// waits for end-of-file on its stdin; then it kills the group, which is gone already after a normal end.
const GUARD = `trap '' INT TERM HUP; while read -r _; do :; done; kill -KILL "-$1" 2>/dev/null; exit 0`;

export interface ShellGroup {
  child: ChildProcess;
  /** Kills the shell and every process of its group at once (synchronous: safe right before exit). */
  killGroup(): void;
  /** Ends the guard once the shell is done. */
  release(): void;
}

export function spawnShellGroup(command: string, cwd: string, env: Record<string, string>): ShellGroup {
  const child = spawn('bash', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pgid = child.pid;
  let guard: ChildProcess | undefined;
  if (pgid !== undefined) {
    guard = spawn('/bin/sh', ['-c', GUARD, 'pipe-stage-guard', String(pgid)], { stdio: ['pipe', 'ignore', 'ignore'] });
    guard.on('error', () => {});
    guard.stdin!.on('error', () => {});
  }
  const killGroup = () => {
    if (pgid === undefined) return;
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {}
  };
  return {
    child,
    killGroup,
    release: () => {
      // What the shell left running in its group (a `cmd &`) ends with it, as under a terminal.
      killGroup();
      guard?.stdin?.end();
    },
  };
}
