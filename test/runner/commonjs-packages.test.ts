// Stage bundles load CommonJS packages (no "exports" map, not "type": "module") with require(), which
// spares every stage process Node's lexing of them for named exports; packages with an exports map
// (sharp's two builds) or ESM-only ones (chokidar) keep their import. Default and named imports work
// either way.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { loadsSameCommonJs } from '../../pipeline/keys/commonjs-packages.js';
import { disposeAll, repo, stageApi, Workspace } from './rig.js';

const stage = [
  `import { defineStage } from ${JSON.stringify(stageApi)};`,
  "import fg, { isDynamicPattern } from 'fast-glob';",
  "import * as fgAll from 'fast-glob';",
  "import sharp from 'sharp';",
  "import { watch } from 'chokidar';",
  "import { writeFileSync } from 'node:fs';",
  "import { join } from 'node:path';",
  'export default defineStage({',
  '  async run(ctx) {',
  '    const png = await sharp({ create: { width: 2, height: 1, channels: 3, background: "#ff0000" } }).png().toBuffer();',
  "    const found = fg.sync('*.txt', { cwd: ctx.workspace });",
  '    writeFileSync(join(ctx.outDir, "loaded.json"), JSON.stringify({ found, dynamic: isDynamicPattern("*.png"), namespace: typeof fgAll.sync, png: png.length > 0, watch: typeof watch }));',
  '  },',
  '});',
  '',
].join('\n');

test('CommonJS packages are required, others imported; every kind of import still works', async () => {
  const ws = new Workspace({
    'pipeline.json': { stages: [{ id: 'load', module: 'stages/load.ts', outputs: ['loaded.json'] }] },
    'stages/load.ts': stage,
    'a.txt': 'a',
  });
  const r = await ws.pipe(['run', '--plain']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(JSON.parse(ws.read('artifacts/stages/load/loaded.json')), { found: ['a.txt'], dynamic: true, namespace: 'function', png: true, watch: 'function' });
  const bundle = ws.read('.pipe/bundles/stages__load.ts.mjs');
  assert.match(bundle, /__pipeRequire\("fast-glob"\)/);
  assert.match(bundle, /^import \w+ from "sharp";$/m);
  assert.match(bundle, /^import \{ watch \} from "chokidar";$/m);
});

test('which packages count as the same CommonJS file for import and require', () => {
  assert.ok(loadsSameCommonJs('@tensorflow/tfjs', repo));
  assert.ok(loadsSameCommonJs('@tensorflow/tfjs-backend-wasm/dist/backend_wasm.js', repo));
  assert.not.ok(loadsSameCommonJs('sharp', repo), 'exports map: import and require load different builds');
  assert.not.ok(loadsSameCommonJs('h5wasm', repo), 'ESM only');
  assert.not.ok(loadsSameCommonJs('node:fs', repo));
  assert.not.ok(loadsSameCommonJs('./local.js', repo));
  assert.not.ok(loadsSameCommonJs('no-such-package', join(repo, 'stages')));
});

test.after(disposeAll);
test.run();
