// Runs every `test/**/*.test.ts` file in its own Node process (tf backends and other globals stay
// isolated), two at a time, and prints one closing line: `N passed, N failed`.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import fg from 'fast-glob';

const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const files = (await fg('test/**/*.test.ts', { ignore: ['**/fixtures/**'] }))
  .sort()
  .filter((f) => !filter || filter.test(f));
const parallel = Number(process.env.TEST_PARALLEL ?? Math.max(1, availableParallelism()));

interface FileResult { file: string; passed: number; failed: number; skipped: number; code: number | null; output: string }

function runFile(file: string): Promise<FileResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => {
      const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(output)?.[1] ?? 0);
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped');
      const failed = code === 0 ? total - passed - skipped : Math.max(1, total - passed - skipped);
      resolve({ file, passed, failed, skipped, code, output });
    });
  });
}

const started = Date.now();
const queue = [...files];
const results: FileResult[] = [];
await Promise.all(
  Array.from({ length: Math.min(parallel, queue.length) }, async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      const r = await runFile(file);
      results.push(r);
      const mark = r.failed === 0 && r.code === 0 ? 'ok  ' : 'FAIL';
      console.log(`${mark} ${file}  (${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped)`);
      if (mark === 'FAIL') console.log(r.output.split('\n').map((l) => '     ' + l).join('\n'));
    }
  }),
);
const passed = results.reduce((s, r) => s + r.passed, 0);
const failed = results.reduce((s, r) => s + r.failed, 0);
const skipped = results.reduce((s, r) => s + r.skipped, 0);
console.log(`\n${files.length} test files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
