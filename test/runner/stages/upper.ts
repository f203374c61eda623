// A per-item stage: each input `x.txt` → `up/<rel>` upper-cased plus a suffix, and a finalize summary;
// logs `item <instance> <rel>` and `finalize <instance>` to the workspace's calls.log. The suffix comes
// from the workspace's own stages/lib/suffix.ts (imported by the module the workspace holds; see
// upperStage in ../rig.ts), so editing it there is a code change of this stage.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { definePerItemStage } from '../../../pipeline/stage-api.js';

export function upper(suffix: string) {
  return definePerItemStage({
    async processItems(ctx, items) {
      for (const it of items) {
        const out = join(it.outDir, 'up', it.input.rel);
        mkdirSync(dirname(out), { recursive: true });
        writeFileSync(out, readFileSync(it.input.path, 'utf8').toUpperCase() + suffix);
        appendFileSync(join(ctx.workspace, 'calls.log'), `item ${ctx.instanceId} ${it.input.rel}\n`);
      }
    },
    async finalize(ctx, items) {
      appendFileSync(join(ctx.workspace, 'calls.log'), `finalize ${ctx.instanceId}\n`);
      writeFileSync(join(ctx.outDir, 'summary.json'), JSON.stringify({ items: items.length }));
    },
  });
}
