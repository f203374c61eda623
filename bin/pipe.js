#!/usr/bin/env node
// Entry point of `npx pipe`: the runner, bundled into dist/ by `npm ci` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(bundle)) {
  console.error('pipe: dist/cli.js is missing; run `npm ci` or `npm run build` in the leukopipe folder first.');
  process.exit(2);
}
await import(bundle);
