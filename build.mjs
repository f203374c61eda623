// Bundles the runner's entry points into dist/ so `npx pipe` starts fast (no TypeScript at start-up).
// Runs from `npm ci` (prepare) and before the tests.
import { build } from 'esbuild';

// Flat names in dist/ (dist/cli.js, dist/stage-host.js, dist/slurm-job.js): bin/pipe.js and the runner start them.
const entryPoints = { cli: 'pipeline/cli/cli.ts', 'stage-host': 'pipeline/host/stage-host.ts', 'slurm-job': 'pipeline/exec/slurm-job.ts' };
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
