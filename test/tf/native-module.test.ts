// The committed SIMD module: the base64 copy that stages bundle is the committed .wasm byte for byte
// (with the sha256 its header states), the module passes build.sh's safety check (imports only
// env.memory, no start or data section), and it exports every function simd-kernels.ts binds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TRAINING_KERNELS_WASM_BASE64 } from '../../stages/tf/native/training-kernels-wasm.js';

const native = fileURLToPath(new URL('../../stages/tf/native/', import.meta.url));

test('training-kernels-wasm.ts holds exactly training-kernels.wasm, with the sha256 its header states', () => {
  const committed = readFileSync(native + 'training-kernels.wasm');
  const embedded = Buffer.from(TRAINING_KERNELS_WASM_BASE64, 'base64');
  assert.ok(committed.equals(embedded), 'the base64 copy differs from the .wasm: rerun stages/tf/native/build.sh');
  const header = /sha256 ([0-9a-f]{64}), (\d+) bytes/.exec(readFileSync(native + 'training-kernels-wasm.ts', 'utf8'));
  assert.ok(header, 'header line with sha256 and size');
  assert.is(header![1], createHash('sha256').update(committed).digest('hex'));
  assert.is(Number(header![2]), committed.length);
});

test('the module passes the shared-memory safety check and exports what simd-kernels.ts binds', () => {
  const r = spawnSync(process.execPath, [native + 'check-module.mjs', native + 'training-kernels.wasm'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const source = readFileSync(new URL('../../stages/tf/simd-kernels.ts', import.meta.url), 'utf8');
  const block = /export interface SimdKernels \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
  const bound = [...block.matchAll(/^  ([a-z0-9_]+)\(/gm)].map((m) => m[1]!);
  assert.ok(bound.length >= 15, `found ${bound.length} bound functions`);
  // check-module.mjs lists the module's exports: "…: ok (exports a, b, c)".
  const exported = new Set((/\(exports ([^)]*)\)/.exec(r.stdout)?.[1] ?? '').split(', '));
  for (const name of bound) assert.ok(exported.has(name), `${name} is bound in simd-kernels.ts but not exported by the module`);
});

test.run();
