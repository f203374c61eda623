// Declared env variables may hold secrets (tokens): the stage sees the value, the key and manifests
// hold only its sha256, and logs, `pipe status` and `pipe explain` name the variable, never its value.
// A changed value still reruns the stage.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { disposeAll, stageModule, Workspace, type Result } from './rig.js';

/** Every file under `dir` (recursively), as text. */
function filesUnder(dir: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push([p, readFileSync(p, 'latin1')]);
    }
  };
  walk(dir);
  return out;
}

test('a declared env value never reaches manifests, .pipe or the output; changing it reruns the stage, named without values', async () => {
  const ws = new Workspace({
    'pipeline.json': { env: ['API_TOKEN'], stages: [{ id: 'fetch', module: 'stages/fetch.ts', outputs: ['seen.json'] }, { id: 'shell', command: 'echo "${#API_TOKEN}" > "$PIPE_OUT/length.txt"', outputs: ['length.txt'] }] },
    // The stage proves it saw the value without writing it: its length and a digest of another form.
    'stages/fetch.ts': stageModule('token-digest.ts'),
  });
  const first = 'tok-FIRST-5b1d9e';
  const second = 'tok-SECOND-77c0aa';
  const printed: Result[] = [];
  const pipe = async (args: string[], token: string) => {
    const r = await ws.pipe(args, { API_TOKEN: token });
    printed.push(r);
    return r;
  };
  let r = await pipe(['run', '--plain'], first);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(JSON.parse(ws.read('artifacts/stages/fetch/seen.json')), { length: first.length, md5: createHash('md5').update(first).digest('hex') }, 'the stage saw the value');
  assert.is(ws.read('artifacts/stages/shell/length.txt').trim(), String(first.length));

  r = await pipe(['run', '--plain'], first);
  assert.match(r.stdout, /up to date\s+fetch/, 'the same value: nothing reruns');
  r = await pipe(['status'], second);
  assert.match(r.stdout, /fetch\s+\[env: API_TOKEN changed\]/);
  r = await pipe(['explain', 'fetch'], second);
  assert.match(r.stdout, /env: API_TOKEN changed\n/);
  r = await pipe(['run', '--plain'], second);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /running\s+fetch\s+\[env: API_TOKEN changed\]/);
  assert.match(r.stdout, /running\s+shell\s+\[env: API_TOKEN changed\]/);
  assert.is(JSON.parse(ws.read('artifacts/stages/fetch/seen.json')).length, second.length);

  const manifests = filesUnder(ws.path('artifacts/manifests'));
  assert.ok(manifests.some(([, text]) => text.includes(`"API_TOKEN":"sha256:${createHash('sha256').update(second).digest('hex')}"`)), 'the manifest holds the hash');
  const kept = [...manifests, ...filesUnder(ws.path('artifacts/runs')), ...filesUnder(ws.path('.pipe'))];
  for (const value of [first, second]) {
    for (const [file, text] of kept) assert.not.ok(text.includes(value), `${value} in ${file}`);
    for (const p of printed) assert.not.ok((p.stdout + p.stderr).includes(value), `${value} printed`);
  }
});

test.after(disposeAll);
test.run();
