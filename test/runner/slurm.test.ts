// The Slurm executor against a real one-node Slurm (slurm-wlm + munge on this machine, started by
// test/servers/slurm-up.sh, which .ci/run also calls): results, failures, cancellation, time limits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sbatchArgs } from '../../pipeline/exec/executor-slurm.js';
import { concatStage, disposeAll, repo, upperStage, Workspace, type Result } from './rig.js';

test('stage resources map to sbatch options over the executor block defaults', () => {
  const cfg = { partition: 'cpu', account: 'lab', time: '01:00:00', mem: '4G', args: ['--qos=short'] };
  const whole = sbatchArgs(cfg, { name: 'pipe:train[arch=vgg16]', cpus: 4, gpu: 2, time: '12:00:00', partition: 'gpu' }, '/ws/log', '/ws');
  assert.ok(whole.includes('--gres=gpu:2'));
  assert.ok(whole.includes('--cpus-per-task=4'));
  assert.ok(whole.includes('--time=12:00:00'), 'the stage time overrides the default');
  assert.ok(whole.includes('--partition=gpu'));
  assert.ok(whole.includes('--mem=4G'), 'the default memory applies');
  assert.ok(whole.includes('--account=lab'));
  assert.ok(whole.includes('--qos=short'));
  const plain = sbatchArgs({}, { name: 'pipe:segment', cpus: 1, gpu: 0 }, '/ws/log', '/ws');
  assert.not.ok(plain.some((a) => /^--(gres|mem|time|partition|account)=/.test(a)), plain.join(' '));
});

const up = spawnSync(join(repo, 'test/servers/slurm-up.sh'), { encoding: 'utf8' });
const skip = up.status === 2 ? up.stderr.trim() : null;
if (up.status !== 0 && !skip) throw new Error(`test/servers/slurm-up.sh failed:\n${up.stdout}${up.stderr}`);

const pipeline = {
  stages: [
    { id: 'upper', module: 'stages/upper.ts', perItem: true, inputs: ['data/*.txt'], outputs: ['up/**', 'summary.json'] },
    { id: 'concat', module: 'stages/concat.ts', deps: ['upper'], inputs: [{ from: 'upper', glob: 'up/**' }], params: { tag: 'v1' }, outputs: ['out.txt'] },
    { id: 'shell', command: 'echo ${params.word} > "$PIPE_OUT/word.txt"; echo "shell job=${SLURM_JOB_ID:-none}" >> calls.log', params: { word: 'hello' }, outputs: ['word.txt'] },
  ],
};

function workspace(stages: object = pipeline): Workspace {
  return new Workspace({
    'pipeline.json': stages,
    'stages/upper.ts': upperStage,
    'stages/concat.ts': concatStage,
    'stages/lib/suffix.ts': "export const suffix = '!';\n",
    'stages/exit7.ts': `import { defineStage } from ${JSON.stringify(join(repo, 'pipeline', 'stage-api.js'))};\nexport default defineStage({ async run() { process.exit(7); } });\n`,
    'data/a.txt': 'a',
    'data/b.txt': 'b',
    'data/c.txt': 'c',
  });
}

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (d.isFile()) out[join(d.parentPath, d.name).slice(dir.length + 1)] = readFileSync(join(d.parentPath, d.name)).toString('base64');
  }
  return out;
}

const jobState = (id: string) => /JobState=(\S+)/.exec(spawnSync('scontrol', ['show', 'job', '-o', id], { encoding: 'utf8' }).stdout)?.[1];
const queued = (name: string) => spawnSync('squeue', ['-h', '-n', name, '-o', '%i'], { encoding: 'utf8' }).stdout.trim();

/** Starts `pipe run`, resolves once a line matching `re` appears on its stdout. */
function startUntil(ws: Workspace, args: string[], re: RegExp, env: Record<string, string> = {}) {
  const child = ws.spawn(args, env);
  let stdout = '';
  let stderr = '';
  const done = new Promise<Result>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  const seen = new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      stdout += d;
      const m = re.exec(stdout);
      if (m) resolve(m);
    });
    child.stderr!.on('data', (d) => (stderr += d));
    void done.then(() => reject(new Error(`run ended before ${re}:\n${stdout}${stderr}`)));
  });
  return { child, seen, done };
}

async function until(what: string, cond: () => boolean, ms = 30_000) {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

if (skip) {
  test(`Slurm executor tests skipped: ${skip}`, () => {});
} else {
  // Slurm checks time limits about every 30 s, with a one-minute resolution: start this one first.
  const overTime = workspace({ stages: [{ id: 'slow', command: 'sleep 300', outputs: [], resources: { time: '0:01' } }] });
  const overTimeRun = overTime.pipe(['run', '--executor', 'slurm']);

  test.after(() => disposeAll());

  test('a small pipeline run through Slurm gives byte-identical outputs to a local run', async () => {
    const local = workspace();
    const viaSlurm = workspace();
    const a = await local.pipe(['run']);
    assert.is(a.code, 0, a.stdout + a.stderr);
    const b = await viaSlurm.pipe(['run', '--executor', 'slurm']);
    assert.is(b.code, 0, b.stdout + b.stderr);
    assert.match(b.stdout, /\[upper\] slurm job \d+ submitted/);
    assert.equal(tree(viaSlurm.path('artifacts/stages')), tree(local.path('artifacts/stages')));
    const manifests = (ws: Workspace) => Object.fromEntries(Object.entries(tree(ws.path('artifacts/manifests'))).map(([k, v]) => [k, JSON.parse(Buffer.from(v, 'base64').toString()).files]));
    assert.equal(manifests(viaSlurm), manifests(local), 'same keys, same files');
    assert.match(viaSlurm.calls().find((c) => c.startsWith('shell'))!, /^shell job=\d+$/, 'the stage ran inside a Slurm job');
    assert.is(local.calls().find((c) => c.startsWith('shell')), 'shell job=none');
    assert.equal(readdirSync(viaSlurm.path('.pipe/slurm')).filter((n) => n !== 'active'), [], 'finished jobs leave no folder');
    assert.equal(viaSlurm.list('.pipe/slurm/active'), []);
    viaSlurm.resetCalls();
    const again = await viaSlurm.pipe(['run', '--executor', 'slurm']);
    assert.equal(viaSlurm.calls(), []);
    assert.not.match(again.stdout, /submitted/, 'an up-to-date run submits nothing');
  });

  test('a failing stage and a job that dies are reported with job id, exit code and log path', async () => {
    const ws = workspace({
      stages: [
        { id: 'bad', command: 'echo about to fail >&2; exit 3', outputs: [] },
        { id: 'dies', module: 'stages/exit7.ts', outputs: [] },
        // Killed by a signal Slurm did not send: the job lives on, so after a short wait for Slurm's verdict
        // the command's own failure is what is reported.
        { id: 'shot', command: 'kill -TERM $$', outputs: [] },
      ],
    });
    const r = await ws.pipe(['run', '--executor', 'slurm', '--keep-going']);
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAILED\s+bad[^\n]*\n\s+command exited with code 3\n\s+about to fail\n\s+\(slurm job \d+, log \.pipe\/slurm\/[^\s]+\/slurm-\d+\.log\) \(exit code 3\)/);
    const m = /FAILED\s+dies[^\n]*\n\s+stage process exited \(code 7\) in slurm job (\d+), log (\S+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(existsSync(ws.path(m![2]!)), 'the log is where the message says');
    assert.match(r.stdout, /FAILED\s+shot[^\n]*\n\s+command exited with code SIGTERM\n\s+\(slurm job \d+, log /);
    await until('job state', () => jobState(m![1]!) === 'FAILED');
    assert.not.ok(ws.exists('artifacts/stages/bad'));
  });

  test('a job over its memory limit is reported as out of memory', async () => {
    const ws = workspace({
      stages: [{ id: 'greedy', command: `node -e "const a = []; for (let i = 0; i < 40; i++) a.push(Buffer.alloc(20e6, 1)); setTimeout(() => {}, 10000)"`, outputs: [], resources: { mem: '200M' } }],
    });
    const r = await ws.pipe(['run', '--executor', 'slurm']);
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAILED\s+greedy[^\n]*\n\s+slurm job \d+ ran out of memory \(--mem=200M; raise resources\.mem\)\n\s+log: /);
  });

  test('Ctrl-C scancels the running job and publishes nothing', async () => {
    const ws = workspace({ stages: [{ id: 'sleepy', command: 'sleep 120; echo late > "$PIPE_OUT/late.txt"', outputs: ['late.txt'] }] });
    const run = startUntil(ws, ['run', '--executor', 'slurm'], /slurm job (\d+): running/);
    const id = (await run.seen)[1]!;
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.is(r.code, 130, r.stdout + r.stderr);
    assert.match(r.stdout, /cancelled\s+sleepy/);
    await until('the job to be cancelled', () => jobState(id) === 'CANCELLED');
    assert.is(queued('pipe:sleepy'), '');
    assert.not.ok(ws.exists('artifacts/stages/sleepy'));
  });

  test('a runner killed mid-run leaves no job behind: the job stops on a stale heartbeat, the next run cleans up', async () => {
    const ws = workspace({ stages: [{ id: 'orphan', command: 'sleep 120; echo late > "$PIPE_OUT/late.txt"', outputs: ['late.txt'] }] });
    const run = startUntil(ws, ['run', '--executor', 'slurm'], /slurm job (\d+): running/, { PIPE_SLURM_HEARTBEAT_TIMEOUT: '3' });
    const id = (await run.seen)[1]!;
    run.child.kill('SIGKILL');
    await run.done;
    await until('the orphaned job to stop', () => !['RUNNING', 'PENDING'].includes(jobState(id) ?? ''));
    const logDir = readdirSync(ws.path('.pipe/slurm')).find((n) => n.startsWith('pipe_orphan'))!;
    assert.match(readFileSync(ws.path(`.pipe/slurm/${logDir}/slurm-${id}.log`), 'utf8'), /the runner stopped its heartbeat/);
    assert.not.ok(ws.exists('artifacts/stages/orphan'));
    ws.write('pipeline.json', { stages: [{ id: 'orphan', command: 'echo now > "$PIPE_OUT/late.txt"', outputs: ['late.txt'] }] });
    const next = await ws.pipe(['run', '--executor', 'slurm']);
    assert.is(next.code, 0, next.stdout + next.stderr);
    assert.match(next.stderr, new RegExp(`cancelled 1 Slurm job\\(s\\) left by an earlier pipe run that did not finish \\(${id}\\)`));
    assert.is(ws.read('artifacts/stages/orphan/late.txt'), 'now\n');
  });

  test('a job over its time limit is reported as such', async () => {
    const r = await overTimeRun;
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAILED\s+slow[^\n]*\n\s+slurm job \d+ hit its time limit \(--time=0:01; raise resources\.time\)\n\s+log: \.pipe\/slurm\/\S+\.log/, r.stdout);
    assert.match(r.stdout, /DUE TO TIME LIMIT/, 'the log tail shows Slurm\'s own message');
  });
}

test.run();
