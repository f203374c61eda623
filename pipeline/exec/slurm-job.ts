// What a Slurm job runs on its node: the ordinary stage host (dist/stage-host.js), fed through files
// in the job's folder on the shared file system instead of the runner's IPC pipe.
//   in/<seq>.json   messages for the host (jobs, cancel, exit), written by the runner in order
//   events.jsonl    what the host says (logs, progress, done, error), one JSON line each
//   heartbeat       touched by the runner; when it goes stale the runner is gone (even by kill -9)
//                   and the job stops, so nothing it computes is ever picked up.
// The job's stdout/stderr (the Slurm log) gets the host's output as it happens.
import { fork } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FromHost, ToHost } from '../host/ipc.js';
import { stageHostPath } from '../store/paths.js';

export type JobEvent = FromHost | { type: 'exited'; code: number | null; signal: string | null } | { type: 'runner-gone' };

const [dir, workspace, heartbeatArg] = process.argv.slice(2);
if (!dir || !workspace) {
  process.stderr.write('usage: slurm-job.js <job folder> <workspace> [heartbeat timeout s]\n');
  process.exit(2);
}
const heartbeatMs = Number(heartbeatArg ?? 60) * 1000;
const events = join(dir, 'events.jsonl');
const emit = (e: JobEvent) => appendFileSync(events, `${JSON.stringify(e)}\n`);

const env = JSON.parse(readFileSync(join(dir, 'env.json'), 'utf8')) as Record<string, string>;
// Devices are Slurm's to give (--gres): the stage sees the ones this job was allocated.
const devices = process.env.CUDA_VISIBLE_DEVICES;
if (devices !== undefined) env.CUDA_VISIBLE_DEVICES = devices;
for (const k of ['SLURM_JOB_ID', 'SLURM_CPUS_PER_TASK', 'SLURMD_NODENAME']) if (process.env[k]) env[k] = process.env[k]!;

const host = fork(stageHostPath(), [], { cwd: workspace, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
const relay = (level: 'log' | 'warn', out: NodeJS.WriteStream) => {
  let buf = '';
  return (chunk: Buffer) => {
    out.write(chunk);
    buf += chunk.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const message of lines) emit({ type: 'log', level, message });
  };
};
host.stdout!.on('data', relay('log', process.stdout));
host.stderr!.on('data', relay('warn', process.stderr));
host.on('message', (m: FromHost) => {
  if (m.type === 'log') process.stdout.write(`${m.message}\n`);
  if (m.type === 'error') process.stderr.write(`${m.message}\n`);
  emit(m);
});
host.on('exit', (code, signal) => {
  emit({ type: 'exited', code, signal });
  process.exit(code ?? 1);
});
process.on('SIGTERM', () => {
  host.kill('SIGKILL');
  process.exit(143);
});

let seq = 0;
let lastBeat = Number.NaN;
let lastChange = Date.now();
const devicesList = devices ? devices.split(',').filter(Boolean) : undefined;
const tick = () => {
  for (;;) {
    const file = join(dir, 'in', `${String(seq).padStart(6, '0')}.json`);
    if (!existsSync(file)) break;
    const m = JSON.parse(readFileSync(file, 'utf8')) as ToHost;
    seq++;
    if (m.type === 'job' && devicesList && 'ctx' in m.job && typeof m.job.ctx === 'object') m.job.ctx.resources.gpu = devicesList;
    host.send(m);
  }
  // Judged by this node's clock only (when the file last changed), so clock skew between nodes is moot.
  let beat = -1;
  try {
    beat = statSync(join(dir, 'heartbeat')).mtimeMs;
  } catch {}
  if (beat !== lastBeat) {
    lastBeat = beat;
    lastChange = Date.now();
  }
  if (Date.now() - lastChange > heartbeatMs) {
    process.stderr.write(`pipe: the runner stopped its heartbeat ${((Date.now() - lastChange) / 1000).toFixed(0)} s ago (killed?); stopping this job\n`);
    emit({ type: 'runner-gone' });
    host.kill('SIGKILL');
    process.exit(1);
  }
};
setInterval(tick, 200);
tick();
