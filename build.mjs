// Bundles the runner's entry points into dist/ so `npx pipe` starts fast (no TypeScript at start-up).
// Runs from `npm ci` (prepare) and before the tests.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const entryPoints = ['pipeline/cli.ts', 'pipeline/stage-host.ts', 'pipeline/slurm-job.ts'].filter((p) => existsSync(p));
await build({
  entryPoints,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
  outExtension: { '.js': '.js' },
});
