// The shared cache against a real HTTP server (nginx with WebDAV PUT on loopback), in Bazel's HTTP
// remote-cache layout: separate clones of one pipeline share results through it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { concatStage, disposeAll, upperStage, Workspace } from './rig.js';
import { freePort, startWebdav, webdavUnavailable, type WebdavServer } from '../servers/webdav-server.js';

const TOKEN = 'sekret-token-7f3a9c';
const unavailable = webdavUnavailable();

function clone(url: string, extra: Record<string, string> = {}): Workspace {
  return new Workspace({
    'pipeline.json': {
      remoteCache: { url, tokenEnv: 'LAB_CACHE_TOKEN' },
      stages: [
        { id: 'upper', module: 'stages/upper.ts', perItem: true, inputs: ['data/*.txt'], outputs: ['up/**', 'summary.json'] },
        { id: 'concat', module: 'stages/concat.ts', deps: ['upper'], inputs: [{ from: 'upper', glob: 'up/**' }], params: { tag: 'v1' }, outputs: ['out.txt'] },
        { id: 'shell', command: 'echo ${params.word} > "$PIPE_OUT/word.txt"; echo shell >> calls.log', params: { word: 'hello' }, outputs: ['word.txt'] },
      ],
    },
    'stages/upper.ts': upperStage,
    'stages/concat.ts': concatStage,
    'stages/lib/suffix.ts': "export const suffix = '!';\n",
    'data/a.txt': 'a',
    'data/b.txt': 'b',
    ...extra,
  });
}

/** Every file under a folder, recursively, with its content (to compare clones byte for byte). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (d.isFile()) {
      const p = join(d.parentPath, d.name);
      out[p.slice(dir.length + 1)] = readFileSync(p).toString('base64');
    }
  }
  return out;
}

function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!d.isFile() || d.parentPath.includes('node_modules')) continue;
    const p = join(d.parentPath, d.name);
    if (readFileSync(p).includes(needle)) hits.push(p);
  }
  return hits;
}

const env = { LAB_CACHE_TOKEN: TOKEN };
let server: WebdavServer | undefined;
let first: Workspace | undefined;

if (unavailable) {
  test(`remote cache tests skipped: ${unavailable}`, () => {});
} else {
  test.before(async () => {
    server = await startWebdav({ token: TOKEN });
  });
  test.after(async () => {
    disposeAll();
    await server?.stop();
  });

  test('a first clone runs everything and uploads it in the Bazel layout (ac/<key>, cas/<sha256>)', async () => {
    first = clone(server!.url);
    const r = await first.pipe(['run'], env);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.equal(first.calls().length, 5);
    const ac = readdirSync(join(server!.root, 'ac'));
    assert.is(ac.length, 3, 'one action-cache entry per instance');
    for (const k of ac) assert.match(k, /^[0-9a-f]{64}$/);
    const out = first.read('artifacts/stages/concat/out.txt');
    const h = createHash('sha256').update(out).digest('hex');
    assert.is(readFileSync(join(server!.root, 'cas', h), 'utf8'), out, 'objects are stored under their sha256');
    assert.not.ok(server!.requests().some((l) => /^(GET|PUT|HEAD) \/(ac|cas)\/.* 401$/.test(l)), 'every request carried the token');
  });

  test('a second, separate clone restores every instance from the remote without running a stage', async () => {
    const second = clone(server!.url);
    const r = await second.pipe(['run'], env);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.equal(second.calls(), [], 'no stage ran');
    assert.match(r.stdout, /restored\s+upper .*from the remote cache/);
    assert.match(r.stdout, /restored\s+concat .*from the remote cache/);
    assert.match(r.stdout, /restored\s+shell .*from the remote cache/);
    assert.equal(tree(second.path('artifacts/stages')), tree(first!.path('artifacts/stages')), 'byte-identical outputs');
    // The per-item stage's item records came along: a new item runs alone.
    second.write('data/c.txt', 'c');
    const r2 = await second.pipe(['run'], env);
    assert.is(r2.code, 0, r2.stdout + r2.stderr);
    assert.equal(second.calls().sort(), ['finalize upper', 'item upper data/c.txt', 'run concat']);
    assert.equal(filesContaining(second.dir, TOKEN), [], 'the token is written nowhere in the workspace');
    assert.equal(filesContaining(first!.dir, TOKEN), []);
    assert.not.match(r.stdout + r.stderr + r2.stdout + r2.stderr, new RegExp(TOKEN));
  });

  test('a corrupted or truncated object on the server is refused and its instance runs locally', async () => {
    const out = first!.read('artifacts/stages/concat/out.txt');
    const h = createHash('sha256').update(out).digest('hex');
    writeFileSync(join(server!.root, 'cas', h), out.replace('A', 'X'));
    const word = createHash('sha256').update(first!.read('artifacts/stages/shell/word.txt')).digest('hex');
    truncateSync(join(server!.root, 'cas', word), 2);
    const third = clone(server!.url);
    const r = await third.pipe(['run'], env);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /refused concat: an output of concat \(cas\/[0-9a-f]{12}…\) does not match its hash/);
    assert.match(r.stderr, /refused shell: .*corrupt or truncated; running it here/);
    assert.equal(third.calls().sort(), ['run concat', 'shell'], 'upper restored; the two refused instances ran here');
    assert.is(third.read('artifacts/stages/concat/out.txt'), out, 'the good content, never the corrupt one');
    assert.is(third.read('artifacts/stages/shell/word.txt'), 'hello\n');
  });

  test('without the token the server refuses: a warning, and the run still succeeds locally', async () => {
    const noToken = clone(server!.url);
    const r = await noToken.pipe(['run'], { LAB_CACHE_TOKEN: '' });
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /warning: remote cache http:\/\/127\.0\.0\.1:\d+ refused the request \(HTTP 401; is LAB_CACHE_TOKEN set\?\); running without it/);
    assert.is(noToken.calls().length, 5);
  });

  test('an unreachable remote is a warning, not a failure', async () => {
    const offline = clone(`http://127.0.0.1:${await freePort()}/`);
    const r = await offline.pipe(['run'], env);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /warning: remote cache http:\/\/127\.0\.0\.1:\d+ unreachable \(ECONNREFUSED\); running without it/, r.stderr);
    assert.is(offline.calls().length, 5);
    assert.is((r.stderr.match(/unreachable/g) ?? []).length, 1, 'warned once, not per instance');
  });
}

test.run();
