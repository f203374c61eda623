// The test's side of the controlled stage (stages/controlled.ts, stages/controlled-items.ts), after
// wireit's test rig: a stage process announces each invocation over a Unix socket and then waits for
// the test to say finish, fail or hang, so a test steps a real `pipe run` through its states instead
// of polling files and sleeping:
//
//   const stage = await ws.controlled();
//   const run = ws.run(['run']);
//   const inv = await stage.nextInvocation('slow');
//   assert.is(inv.instanceId, 'slow');
//   await inv.finish({ 'out.txt': 'done' });
//   await inv.closed();
//
// Every wait times out with an error naming what it waited for.
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Files, FilesByDest, Hello, ToRig, ToStage } from './stages/lib/controlled-protocol.js';

export { RIG_ENV, type Files } from './stages/lib/controlled-protocol.js';

/** How long a wait lasts before it fails (the machines running these tests can be slow and busy). */
export const WAIT_MS = 60_000;

/** A promise that rejects after `ms` with "timed out … waiting for <what>", unless it settles first. */
export function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what()}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A promise with its resolve and reject at hand. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {}); // rejections surface where it is awaited
  return { promise, resolve, reject };
}

/** What an item invocation writes: the same files for every item, or a function of the item rel. */
export type ItemFiles = Files | ((rel: string) => Files);

/** One run() of a whole stage or one processItems() chunk of a per-item stage, as announced. */
export class Invocation {
  readonly instanceId: string;
  readonly stageId: string;
  readonly kind: Hello['kind'];
  /** The stage process (kill it to simulate a crash). */
  readonly pid: number;
  /** The chunk's item rels (per-item stages). */
  readonly items: string[];
  readonly inputs: Hello['inputs'];
  readonly params: Record<string, unknown>;
  readonly matrix: Record<string, string>;
  readonly resources: Hello['resources'];
  readonly env: Record<string, string>;
  /** The last instruction given: what the stage is doing. */
  state: 'waiting' | 'finished' | 'failed' | 'hung' = 'waiting';
  private seq = 0;
  private readonly acks = new Map<number, ReturnType<typeof deferred<void>>>();
  private readonly closedSignal = deferred();
  private readonly abortedSignal = deferred();
  isClosed = false;
  wasAborted = false;

  constructor(hello: Hello, private readonly socket: Socket) {
    this.instanceId = hello.instanceId;
    this.stageId = hello.stageId;
    this.kind = hello.kind;
    this.pid = hello.pid;
    this.items = hello.items;
    this.inputs = hello.inputs;
    this.params = hello.params;
    this.matrix = hello.matrix;
    this.resources = hello.resources;
    this.env = hello.env;
  }

  /** e.g. `slow (pid 123)`, `items [data/3.txt] (pid 123)` */
  toString(): string {
    return `${this.instanceId}${this.kind === 'items' ? ` [${this.items.join(', ')}]` : ''} (pid ${this.pid})`;
  }

  /** The text of an input of at most 4 KiB, as the stage read it when it started. */
  inputText(rel?: string): string | undefined {
    return (rel === undefined ? this.inputs[0] : this.inputs.find((f) => f.rel === rel))?.text;
  }

  /** @internal */
  onMessage(m: ToRig): void {
    if (m.type === 'ack') {
      this.acks.get(m.seq)?.resolve();
      this.acks.delete(m.seq);
    } else if (m.type === 'aborted') {
      this.wasAborted = true;
      this.abortedSignal.resolve();
    }
  }

  /** @internal */
  onClose(): void {
    this.isClosed = true;
    this.closedSignal.resolve();
    this.abortedSignal.reject(new Error(`${this} went away without its signal aborting`));
    for (const ack of this.acks.values()) ack.reject(new Error(`${this} went away before doing what it was told`));
    this.acks.clear();
  }

  private tell(m: DistributiveOmit<ToStage, 'seq'>, what: string): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error(`cannot ${what}: ${this} has gone away`));
    const seq = ++this.seq;
    const ack = deferred();
    this.acks.set(seq, ack);
    this.socket.write(`${JSON.stringify({ ...m, seq })}\n`);
    return within(ack.promise, WAIT_MS, () => `${this} to ${what}`);
  }

  private dests(files: ItemFiles | undefined): FilesByDest {
    if (this.kind === 'run') {
      if (typeof files === 'function') throw new Error(`${this}: a whole stage takes files, not a function of the item`);
      return { '': files ?? {} };
    }
    const of = typeof files === 'function' ? files : files ? () => files : (rel: string) => ({ [`out/${rel}`]: 'done' });
    return Object.fromEntries(this.items.map((rel) => [rel, of(rel)]));
  }

  /** Writes files into the outDir (per item: each item's) and keeps waiting. */
  write(files: ItemFiles): Promise<void> {
    return this.tell({ type: 'write', files: this.dests(files) }, 'write files');
  }

  /**
   * Writes files and returns from run()/processItems(); resolves once they are written. Without files a
   * whole stage writes none and each item writes `out/<rel>` ("done").
   */
  finish(files?: ItemFiles): Promise<void> {
    this.state = 'finished';
    return this.tell({ type: 'finish', files: this.dests(files) }, 'finish');
  }

  /** Throws a StageError with this message from the stage. */
  fail(message: string): Promise<void> {
    this.state = 'failed';
    return this.tell({ type: 'fail', message }, 'fail');
  }

  /** Never returns and ignores ctx.signal: only killing the process ends it. */
  hang(): Promise<void> {
    this.state = 'hung';
    return this.tell({ type: 'hang' }, 'hang');
  }

  /** Resolves when the connection has closed: the stage returned or threw, or its process died. */
  closed(ms = WAIT_MS): Promise<void> {
    return within(this.closedSignal.promise, ms, () => `${this} to go away`);
  }

  /** Resolves when the stage has seen its ctx.signal abort (the runner cancelled it). */
  aborted(ms = WAIT_MS): Promise<void> {
    return within(this.abortedSignal.promise, ms, () => `${this} to see its signal abort`);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Match = string | ((inv: Invocation) => boolean);

const matches = (match: Match | undefined, inv: Invocation) =>
  match === undefined ? true : typeof match === 'string' ? inv.instanceId === match || inv.stageId === match : match(inv);

/** The rig's end of the socket: every invocation of every controlled stage of one workspace. */
export class ControlledStage {
  /** Every invocation announced so far, in order. */
  readonly invocations: Invocation[] = [];
  /** Announced and not yet handed out by nextInvocation(). */
  private queue: Invocation[] = [];
  private waiters: { match: Match | undefined; resolve: (inv: Invocation) => void }[] = [];
  private sockets = new Set<Socket>();
  private autoFinish = false;

  private constructor(private readonly server: Server, readonly socketPath: string) {
    server.on('connection', (socket) => this.accept(socket));
  }

  static listen(socketPath: string): Promise<ControlledStage> {
    rmSync(socketPath, { force: true });
    const server = createServer();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        // Never what keeps a test file's process alive: the waits' timers do that while a test waits.
        server.unref();
        resolve(new ControlledStage(server, socketPath));
      });
    });
  }

  private accept(socket: Socket): void {
    socket.unref();
    this.sockets.add(socket);
    socket.setEncoding('utf8');
    let inv: Invocation | undefined;
    let buf = '';
    socket.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const m = JSON.parse(buf.slice(0, nl)) as ToRig;
        buf = buf.slice(nl + 1);
        if (m.type === 'hello') this.announce((inv = new Invocation(m, socket)));
        else inv?.onMessage(m);
      }
    });
    socket.on('error', () => {}); // a killed stage resets the connection; 'close' follows
    socket.on('close', () => {
      this.sockets.delete(socket);
      inv?.onClose();
    });
  }

  private announce(inv: Invocation): void {
    this.invocations.push(inv);
    if (this.autoFinish) return void inv.finish().catch(() => {});
    const w = this.waiters.findIndex((x) => matches(x.match, inv));
    if (w >= 0) this.waiters.splice(w, 1)[0]!.resolve(inv);
    else this.queue.push(inv);
  }

  /**
   * The next invocation not handed out yet (of the instance or stage `match` names, or for which
   * `match` returns true), waiting for it to be announced.
   */
  nextInvocation(match?: Match, ms = WAIT_MS): Promise<Invocation> {
    const q = this.queue.findIndex((inv) => matches(match, inv));
    if (q >= 0) return Promise.resolve(this.queue.splice(q, 1)[0]!);
    const waiter = { match, resolve: (_: Invocation) => {} };
    const p = new Promise<Invocation>((resolve) => (waiter.resolve = resolve));
    this.waiters.push(waiter);
    const what = () =>
      `the next invocation${typeof match === 'string' ? ` of ${match}` : match ? ' that matches' : ''} of a controlled stage (announced so far: ${this.invocations.join(', ') || 'none'})`;
    return within(p, ms, what).finally(() => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
    });
  }

  /** Finishes (with the default files) every invocation not handed out yet, and every later one. */
  finishAll(): void {
    this.autoFinish = true;
    for (const inv of this.queue.splice(0)) inv.finish().catch(() => {});
  }

  /** Closes the socket; stages still waiting fail ("the test rig closed the connection"). */
  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
    rmSync(this.socketPath, { force: true });
  }
}
