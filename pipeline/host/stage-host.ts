// The child process that runs stage code. It receives jobs over IPC, imports the stage's bundle,
// validates params against the stage's paramsSchema, builds the StageContext and reports logs,
// progress and the result. When the runner disappears (even by kill -9) the IPC channel closes and
// the host kills what it started and exits, so no orphan keeps writing.
import type { ContextData, FromHost, Job, ToHost } from './ipc.js';
import { paramsErrorLines } from '../config/params-errors.js';
import { spawnShellGroup } from './shell-group.js';
import { processUsage } from './process-usage.js';
import { mapBundleStack } from './bundle-stack.js';
import { depLookup, type StageContext, type StageModule } from '../stage-api.js';


const send = (m: FromHost) => {
  if (process.connected) process.send!(m);
};

let abort = new AbortController();
let killShell: (() => void) | undefined;

// What Node would print for an error no job caught, with the stack pointed at the stage's .ts sources.
const crash = (e: unknown) => {
  const err = e as Error;
  process.stderr.write(`${err?.stack ? mapBundleStack(err.stack) : String(e)}\n`);
  killShell?.();
  process.exit(1);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

process.on('disconnect', () => {
  killShell?.();
  process.exit(1);
});

const modules = new Map<string, Promise<StageModule>>();
function load(bundle: string): Promise<StageModule> {
  let p = modules.get(bundle);
  if (!p) {
    p = import(bundle).then((m: { default?: StageModule }) => {
      const s = m.default;
      if (!s || (s.kind !== 'whole' && s.kind !== 'per-item')) {
        throw new CleanError('the module must `export default defineStage({...})` or `definePerItemStage({...})` (pipeline/stage-api.ts)');
      }
      return s;
    });
    modules.set(bundle, p);
  }
  return p;
}

class CleanError extends Error {}

let lastProgress = 0;
function context(data: ContextData): StageContext {
  return {
    ...data,
    ...depLookup(data.deps, data.declaredDeps),
    signal: abort.signal,
    log: (message) => send({ type: 'log', level: 'log', message: String(message) }),
    warn: (message) => send({ type: 'log', level: 'warn', message: String(message) }),
    progress: (done, total, label) => {
      const now = Date.now();
      if (now - lastProgress < 100 && done < total) return;
      lastProgress = now;
      send({ type: 'progress', done, total, ...(label !== undefined ? { label } : {}) });
    },
  };
}

const validated = new Set<string>();
async function checkParams(stage: StageModule, data: ContextData): Promise<void> {
  if (!stage.paramsSchema || validated.has(data.instanceId)) return;
  const { Ajv2020 } = await import('ajv/dist/2020.js');
  const ajv = new Ajv2020({ allErrors: true, strict: false, useDefaults: false });
  const validate = ajv.compile(stage.paramsSchema);
  if (!validate(data.params)) {
    const lines = paramsErrorLines(validate.errors);
    throw new CleanError(`invalid params:\n  ${lines.join('\n  ')}`);
  }
  validated.add(data.instanceId);
}

let lastContext: ContextData | undefined;

async function runJob(job: Job): Promise<void> {
  if (job.kind === 'shell') return runShell(job.command, job.ctx, job.inputsFile);
  const stage = await load(job.bundle);
  if (job.kind === 'describe') {
    const perItem = stage.kind === 'per-item';
    send({ type: 'described', kind: stage.kind, hasFinalize: perItem && typeof stage.finalize === 'function', hasSkipCheck: perItem && (typeof stage.skipAllItems === 'function' || typeof stage.wantsItem === 'function'), paramsSchema: stage.paramsSchema ?? null });
    return;
  }
  const data = job.ctx === 'same' ? lastContext : job.ctx;
  if (!data) throw new Error(`${job.kind} job refers to a previous context, but this process has none`);
  lastContext = data;
  await checkParams(stage, data);
  const ctx = context(data);
  if (job.kind === 'whole') {
    if (stage.kind !== 'whole') throw new CleanError('module exports a per-item stage but pipeline.json does not set "perItem": true');
    await stage.run(ctx);
  } else {
    if (stage.kind !== 'per-item') throw new CleanError('pipeline.json sets "perItem": true but the module exports defineStage (use definePerItemStage)');
    if (job.kind === 'items') await stage.processItems(ctx, job.items);
    else if (job.kind === 'skip-check') {
      const reason = (await stage.skipAllItems?.(ctx)) ?? null;
      const wants = reason === null ? stage.wantsItem?.(ctx) : undefined;
      const unwanted = wants ? ctx.inputs.flatMap((input, i) => (wants(input) ? [] : [i])) : [];
      send({ type: 'skip-check', reason, ...(unwanted.length ? { unwanted } : {}) });
    }
    else await stage.finalize?.(ctx, job.items);
  }
}

async function runShell(command: string, data: ContextData, inputsFile: string): Promise<void> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PIPE_OUT: data.outDir,
    PIPE_STATE: data.stateDir,
    PIPE_WORKSPACE: data.workspace,
    PIPE_INSTANCE: data.instanceId,
    PIPE_PARAMS: JSON.stringify(data.params),
    PIPE_INPUTS: inputsFile,
  };
  const group = spawnShellGroup(command, data.workspace, env);
  killShell = group.killGroup;
  const forward = (level: 'log' | 'warn') => {
    let buf = '';
    return (chunk: Buffer) => {
      buf += chunk.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) send({ type: 'log', level, message: line });
    };
  };
  group.child.stdout!.on('data', forward('log'));
  const tail: string[] = [];
  group.child.stderr!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      tail.push(line);
      if (tail.length > 20) tail.shift();
    }
  });
  const out = await new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
    group.child.on('error', reject);
    // At the shell's exit its leftovers die too, so a background child holding stdout cannot stall 'close'.
    group.child.on('exit', () => group.release());
    group.child.on('close', (code, signal) => resolve({ code, signal }));
  }).finally(() => {
    group.release();
    killShell = undefined;
  });
  if (out.code !== 0) {
    throw Object.assign(new CleanError(`command exited with code ${out.code ?? out.signal}${tail.length ? `\n${tail.map((l) => `    ${l}`).join('\n')}` : ''}`), {
      exitCode: out.code ?? undefined,
      ...(out.signal ? { signal: out.signal } : {}),
    });
  }
}

process.on('message', (m: ToHost) => {
  if (m.type === 'exit') process.exit(0);
  if (m.type === 'cancel') {
    abort.abort();
    killShell?.();
    return;
  }
  abort = new AbortController();
  runJob(m.job).then(
    () => send({ type: 'done', usage: processUsage() }),
    (e: unknown) => {
      const err = e as Error & { exitCode?: number; signal?: string };
      const clean = err instanceof CleanError || err?.name === 'StageError';
      // A stage's stack names stages/<file>.ts:line (the bundle's inline map), not .pipe/bundles/<file>.mjs.
      const message = clean ? err.message : err?.stack ? mapBundleStack(err.stack) : String(e);
      send({ type: 'error', message, clean, ...(err?.exitCode !== undefined ? { exitCode: err.exitCode } : {}), ...(err?.signal ? { signal: err.signal } : {}) });
    },
  );
});
