// Test rig for the runner: temporary workspaces holding tiny pipelines, the real CLI (dist/cli.js,
// built by `node build.mjs`), and a log of stage invocations to count what ran. Stage modules are real
// files under stages/ here; a workspace holds a one-line module re-exporting one (stageModule). The
// controlled stage (controlled-stage.ts) lets a test step a run through its states; `run()` gives a
// running pipe whose output a test can wait on, and `gate()` a named pipe a shell stage waits on.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlledStage, RIG_ENV, WAIT_MS, within } from './controlled-stage.js';

export { RIG_ENV, WAIT_MS, within, type ControlledStage, type Invocation } from './controlled-stage.js';

export const repo = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(repo, 'dist', 'cli.js');

if (!existsSync(cli)) spawnSync(process.execPath, ['build.mjs'], { cwd: repo, stdio: 'inherit' });

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running `pipe …`: its output so far, waits on it, and its result. */
export class Running {
  stdout = '';
  stderr = '';
  /** stdout and stderr as they arrived. */
  out = '';
  readonly result: Promise<Result>;
  exitCode: number | null | undefined;
  private listeners = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    const on = (which: 'stdout' | 'stderr') => (d: Buffer) => {
      this[which] += d;
      this.out += d;
      for (const l of this.listeners) l();
    };
    child.stdout!.on('data', on('stdout'));
    child.stderr!.on('data', on('stderr'));
    this.result = new Promise((resolve) =>
      child.on('close', (code) => {
        this.exitCode = code;
        for (const l of this.listeners) l();
        resolve({ code, stdout: this.stdout, stderr: this.stderr });
      }),
    );
  }

  /** Resolves when the output (stdout and stderr) matches `re`; fails on a timeout or when pipe exits first. */
  waitFor(re: RegExp, what: string, ms = WAIT_MS): Promise<RegExpExecArray> {
    let check = () => {};
    const matched = new Promise<RegExpExecArray>((resolve, reject) => {
      check = () => {
        const m = re.exec(this.out);
        if (m) resolve(m);
        else if (this.exitCode !== undefined) reject(new Error(`pipe exited (code ${this.exitCode}) before ${what} (${re}); output:\n${this.out}`));
      };
    });
    this.listeners.add(check);
    check();
    return within(matched, ms, () => `${what} (${re}); output so far:\n${this.out}`).finally(() => this.listeners.delete(check));
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.child.kill(signal);
  }
}

/** A named pipe a shell stage waits on with `read _ < <name>` (one line per reader). */
export interface Gate {
  /** Lets `readers` waiting (or later) readers through. */
  open(readers?: number): void;
}

/** The lines processes write into a named pipe; it ends once every writer has closed it (exited). */
export interface PipeReader {
  lines: string[];
  /** Resolves once `n` lines have arrived. */
  waitLines(n: number, what: string, ms?: number): Promise<void>;
  /** Resolves at end of file: every process that opened it for writing has closed it. */
  ended(what: string, ms?: number): Promise<void>;
}

const created: Workspace[] = [];

/** Removes every workspace a test file created (call from `test.after`, so failures leave nothing behind). */
export function disposeAll(): void {
  for (const ws of created.splice(0)) ws.dispose();
}

export class Workspace {
  readonly dir: string;
  /** The controlled stage's socket: one path per workspace, so a declared RIG_ENV is the same in every run's keys. */
  readonly rigSocket: string;
  private rig: ControlledStage | undefined;
  private rigStarting: Promise<ControlledStage> | undefined;
  private cleanups: (() => void)[] = [];
  private children = new Set<ChildProcess>();

  constructor(files: Record<string, string | object>) {
    this.dir = mkdtempSync(join(tmpdir(), 'pipe-test-'));
    this.rigSocket = `${this.dir}.rig.sock`;
    created.push(this);
    symlinkSync(join(repo, 'node_modules'), join(this.dir, 'node_modules'));
    for (const [rel, content] of Object.entries(files)) this.write(rel, content);
  }

  write(rel: string, content: string | object): void {
    const path = join(this.dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }

  read(rel: string): string {
    return readFileSync(join(this.dir, rel), 'utf8');
  }

  exists(rel: string): boolean {
    return existsSync(join(this.dir, rel));
  }

  /** Names in a folder of the workspace, sorted; none if it does not exist. */
  list(rel: string): string[] {
    return this.exists(rel) ? readdirSync(join(this.dir, rel)).sort() : [];
  }

  remove(rel: string): void {
    rmSync(join(this.dir, rel), { recursive: true, force: true });
  }

  path(rel: string): string {
    return join(this.dir, rel);
  }

  /** Runs `pipe args…` in the workspace and waits for it. */
  pipe(args: string[], env: Record<string, string> = {}): Promise<Result> {
    return this.run(args, env).result;
  }

  /** Starts `pipe args…` in the workspace. */
  run(args: string[], env: Record<string, string> = {}): Running {
    return new Running(this.spawn(args, env));
  }

  spawn(args: string[], env: Record<string, string> = {}) {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: this.dir,
      env: { ...process.env, CI: '1', FORCE_COLOR: '0', [RIG_ENV]: this.rigSocket, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.on('close', () => this.children.delete(child));
    return child;
  }

  /** The controlled stages' end of the socket (started on the first call; one per workspace). */
  async controlled(): Promise<ControlledStage> {
    this.rigStarting ??= ControlledStage.listen(this.rigSocket).then((s) => (this.rig = s));
    return this.rigStarting;
  }

  /** Makes a named pipe at `rel` for a shell stage to wait on with `read _ < rel`. */
  gate(rel: string): Gate {
    this.mkfifo(rel);
    let fd: number | undefined;
    return {
      open: (readers = 1) => {
        // Read-write, so the open never blocks (Linux) and the lines stay buffered until readers come.
        fd ??= openSync(this.path(rel), constants.O_RDWR);
        writeSync(fd, '\n'.repeat(readers));
        this.cleanups.push(() => closeSync(fd!));
      },
    };
  }

  /** Makes a named pipe at `rel` and reads what stage processes write into it. */
  pipeReader(rel: string): PipeReader {
    this.mkfifo(rel);
    // Non-blocking, so opening does not wait for a writer; Linux reports no hang-up before one came.
    const socket = new Socket({ fd: openSync(this.path(rel), constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
    this.cleanups.push(() => socket.destroy());
    const lines: string[] = [];
    let buf = '';
    let ended = false;
    const listeners = new Set<() => void>();
    const changed = () => listeners.forEach((l) => l());
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
      changed();
    });
    socket.on('end', () => ((ended = true), changed()));
    socket.on('error', () => ((ended = true), changed()));
    const until = (cond: () => boolean, what: string, ms: number) => {
      let check = () => {};
      const met = new Promise<void>((resolve) => (check = () => void (cond() && resolve())));
      listeners.add(check);
      check();
      return within(met, ms, () => `${what} (${lines.length} lines from ${rel} so far${ended ? ', ended' : ''})`).finally(() => listeners.delete(check));
    };
    return {
      lines,
      waitLines: (n, what, ms = WAIT_MS) => until(() => lines.length >= n || ended, what, ms).then(() => {
        if (lines.length < n) throw new Error(`${rel} ended after ${lines.length} lines, before ${what}`);
      }),
      ended: (what, ms = WAIT_MS) => until(() => ended, what, ms),
    };
  }

  private mkfifo(rel: string): void {
    mkdirSync(dirname(this.path(rel)), { recursive: true });
    const r = spawnSync('mkfifo', [this.path(rel)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mkfifo ${rel}: ${r.stderr || r.error?.message}`);
  }

  /** Lines stages appended to `calls.log` (each stage in these tests logs one line per unit of work). */
  calls(): string[] {
    return this.exists('calls.log') ? this.read('calls.log').split('\n').filter(Boolean) : [];
  }

  /** Calls since the last `resetCalls()`. */
  resetCalls(): void {
    this.remove('calls.log');
  }

  /** Kills what a failed test left running here, closes the rig's socket and pipes, removes the folder. */
  dispose(): void {
    for (const child of this.children) child.kill('SIGKILL');
    for (const c of this.cleanups.splice(0)) c();
    this.rig?.close();
    rmSync(this.rigSocket, { force: true });
    // A killed run's stage hosts may still be writing for a moment: retry on ENOTEMPTY.
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 10 });
  }
}

/** The stage contract, imported by test stage modules written inline. */
export const stageApi = join(repo, 'pipeline', 'stage-api.js');

/** A workspace's module for a stage file of test/runner/stages/ (e.g. `controlled.ts`): a one-line re-export. */
export function stageModule(file: string): string {
  return `export { default } from ${JSON.stringify(join(repo, 'test', 'runner', 'stages', file))};\n`;
}

/** A whole stage the test drives (controlled-stage.ts); its pipeline.json entry declares `env: [RIG_ENV]`. */
export const controlledStage = stageModule('controlled.ts');
/** A per-item stage the test drives, one invocation per chunk of items; declare `env: [RIG_ENV]`. */
export const controlledItemsStage = stageModule('controlled-items.ts');

/** A per-item module (stages/upper.ts): each input `x.txt` → `up/<rel>` upper-cased plus the suffix of the workspace's stages/lib/suffix.ts, plus a finalize summary. */
export const upperStage = `import { suffix } from './lib/suffix.js';
import { upper } from ${JSON.stringify(join(repo, 'test', 'runner', 'stages', 'upper.ts'))};
export default upper(suffix);
`;

/** A whole module stage that concatenates its inputs with its params into out.txt. */
export const concatStage = stageModule('concat.ts');
