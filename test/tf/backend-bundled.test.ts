// The runner bundles stage modules with esbuild into <repo>/.pipe/bundles/ (packages external).
// initBackend must still find the wasm binaries in node_modules from there, in a fresh process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');

test('a module bundled into .pipe/bundles/ initialises wasm with the training kernels', async () => {
  const dir = join(repo, '.pipe', 'bundles', `backend-test-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const entry = join(dir, 'entry.ts');
    writeFileSync(entry, [
      `import * as tf from '@tensorflow/tfjs';`,
      `import { initBackend } from ${JSON.stringify(join(repo, 'stages/tf/backend.ts'))};`,
      `const info = await initBackend();`,
      `const f = tf.grad((w: tf.Tensor4D) => tf.conv2d(tf.ones([1, 5, 5, 2]) as tf.Tensor4D, w, 1, 'same').sum());`,
      `const g = f(tf.zeros([3, 3, 2, 1]) as tf.Tensor4D);`,
      `console.log(JSON.stringify({ info, grad: Array.from(g.dataSync()).slice(0, 3) }));`,
    ].join('\n'));
    await build({ entryPoints: [entry], outfile: join(dir, 'entry.js'), bundle: true, platform: 'node', format: 'esm',
      target: 'node20', packages: 'external', logLevel: 'silent' });
    const stdout = execFileSync(process.execPath, [join(dir, 'entry.js')], { cwd: dir, env: { ...process.env, LEUKOPIPE_BACKEND: '' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const { info, grad } = JSON.parse(stdout.trim().split('\n').pop()!) as { info: { name: string; simd: boolean; trainingKernels: string[] }; grad: number[] };
    assert.is(info.name, 'wasm');
    assert.is(info.simd, true);
    assert.ok(info.trainingKernels.includes('Conv2DBackpropFilter'));
    // Over a 5×5 map of ones, corner taps of a 3×3 'same' filter see 4×4 pixels, edge taps 4×5.
    assert.equal(grad, [16, 16, 20]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
