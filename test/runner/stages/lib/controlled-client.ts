// Stage side of the controlled test stage: connects to the test's socket, announces the invocation
// and then does what the test says: write files and keep waiting, finish (write and return), fail
// (throw a StageError) or hang (never return, whatever ctx.signal says; the runner has to kill it).
// While it waits it ignores ctx.signal too, and reports its abort to the test.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { StageError, type StageContext, type WorkItem } from '../../../../pipeline/stage-api.js';
import { RIG_ENV, type FilesByDest, type Hello, type ToRig, type ToStage } from './controlled-protocol.js';

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', (e) => reject(new StageError(`no test rig listens on ${path} (${(e as NodeJS.ErrnoException).code}): the test must call ws.controlled() before running`, RIG_ENV)));
  });
}

/** Messages from the test, one at a time; null once the connection has closed. */
function messages(socket: Socket): () => Promise<ToStage | null> {
  const queue: (ToStage | null)[] = [];
  let wake: (() => void) | undefined;
  let buf = '';
  const push = (m: ToStage | null) => {
    queue.push(m);
    wake?.();
  };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      push(JSON.parse(buf.slice(0, nl)) as ToStage);
      buf = buf.slice(nl + 1);
    }
  });
  socket.on('close', () => push(null));
  socket.on('error', () => {}); // 'close' follows
  return async () => {
    while (queue.length === 0) await new Promise<void>((r) => (wake = r));
    wake = undefined;
    return queue.shift()!;
  };
}

export async function controlled(ctx: StageContext, kind: Hello['kind'], items: WorkItem[] = []): Promise<void> {
  const path = process.env[RIG_ENV];
  if (!path) throw new StageError(`not set: declare "env": ["${RIG_ENV}"] on the stage and run pipe through the test rig's Workspace`, RIG_ENV);
  const socket = await connect(path);
  const send = (m: ToRig) => socket.write(`${JSON.stringify(m)}\n`);
  const next = messages(socket);
  const onAbort = () => send({ type: 'aborted' });
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  if (ctx.signal.aborted) onAbort();
  const outDirs = new Map<string, string>([['', ctx.outDir], ...items.map((it) => [it.input.rel, it.outDir] as [string, string])]);
  const write = (files: FilesByDest) => {
    for (const [dest, some] of Object.entries(files)) {
      const dir = outDirs.get(dest);
      if (dir === undefined) throw new StageError(`the test asked to write files for ${JSON.stringify(dest)}, which this invocation does not have`, 'controlled stage');
      for (const [rel, content] of Object.entries(some)) {
        mkdirSync(dirname(join(dir, rel)), { recursive: true });
        writeFileSync(join(dir, rel), content);
      }
    }
  };
  send({
    type: 'hello',
    instanceId: ctx.instanceId,
    stageId: ctx.stageId,
    kind,
    pid: process.pid,
    items: items.map((it) => it.input.rel),
    inputs: ctx.inputs.map((f) => ({ rel: f.rel, hash: f.hash, ...(statSync(f.path).size <= 4096 ? { text: readFileSync(f.path, 'utf8') } : {}) })),
    params: ctx.params,
    matrix: ctx.matrix,
    resources: ctx.resources,
    env: Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)),
  });
  try {
    for (let m = await next(); m; m = await next()) {
      if (m.type === 'write') {
        write(m.files);
        send({ type: 'ack', seq: m.seq });
      } else if (m.type === 'finish') {
        write(m.files);
        send({ type: 'ack', seq: m.seq });
        socket.end();
        return;
      } else if (m.type === 'fail') {
        send({ type: 'ack', seq: m.seq });
        socket.end();
        throw new StageError(m.message);
      } else {
        send({ type: 'ack', seq: m.seq });
        // Hangs until the runner kills the process; only the test going away ends it.
        while (await next());
        break;
      }
    }
    throw new Error('the test rig closed the connection before telling the stage to finish');
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}
