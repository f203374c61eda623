// Test rig for the runner: temporary workspaces holding tiny pipelines, the real CLI (dist/cli.js,
// built by `node build.mjs`), and a log of stage invocations to count what ran.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(repo, 'dist', 'cli.js');

if (!existsSync(cli)) spawnSync(process.execPath, ['build.mjs'], { cwd: repo, stdio: 'inherit' });

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const created: Workspace[] = [];

/** Removes every workspace a test file created (call from `test.after`, so failures leave nothing behind). */
export function disposeAll(): void {
  for (const ws of created.splice(0)) ws.dispose();
}

export class Workspace {
  readonly dir: string;

  constructor(files: Record<string, string | object>) {
    this.dir = mkdtempSync(join(tmpdir(), 'pipe-test-'));
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
    const child = this.spawn(args, env);
    return new Promise((resolve) => {
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => (stdout += d));
      child.stderr!.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  spawn(args: string[], env: Record<string, string> = {}) {
    return spawn(process.execPath, [cli, ...args], {
      cwd: this.dir,
      env: { ...process.env, CI: '1', FORCE_COLOR: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Lines stages appended to `calls.log` (each stage in these tests logs one line per unit of work). */
  calls(): string[] {
    return this.exists('calls.log') ? this.read('calls.log').split('\n').filter(Boolean) : [];
  }

  /** Calls since the last `resetCalls()`. */
  resetCalls(): void {
    this.remove('calls.log');
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The stage contract, imported by test stage modules. */
export const stageApi = join(repo, 'pipeline', 'stage-api.js');

/** A per-item module: each input `x.txt` → `up/<rel>` upper-cased, plus a finalize summary. */
export const upperStage = `
import { definePerItemStage } from ${JSON.stringify(stageApi)};
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { suffix } from './lib/suffix.js';
export default definePerItemStage({
  async processItems(ctx, items) {
    for (const it of items) {
      const out = join(it.outDir, 'up', it.input.rel);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, readFileSync(it.input.path, 'utf8').toUpperCase() + suffix);
      appendFileSync(join(ctx.workspace, 'calls.log'), 'item ' + ctx.instanceId + ' ' + it.input.rel + '\\n');
    }
  },
  async finalize(ctx, items) {
    appendFileSync(join(ctx.workspace, 'calls.log'), 'finalize ' + ctx.instanceId + '\\n');
    writeFileSync(join(ctx.outDir, 'summary.json'), JSON.stringify({ items: items.length }));
  },
});
`;

/** A whole module stage that concatenates its inputs with its params into out.txt. */
export const concatStage = `
import { defineStage, StageError } from ${JSON.stringify(stageApi)};
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default defineStage({
  paramsSchema: { type: 'object', properties: { tag: { type: 'string' } }, required: ['tag'] },
  async run(ctx) {
    appendFileSync(join(ctx.workspace, 'calls.log'), 'run ' + ctx.instanceId + '\\n');
    if (ctx.params.fail) throw new StageError('asked to fail', 'params.fail');
    ctx.progress(1, 1);
    const body = ctx.inputs.map((f) => f.rel + '=' + readFileSync(f.path, 'utf8')).join('\\n');
    writeFileSync(join(ctx.outDir, 'out.txt'), ctx.params.tag + '\\n' + body);
  },
});
`;
