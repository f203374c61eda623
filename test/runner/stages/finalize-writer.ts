// A per-item stage whose finalize reads every item's output into all.txt; with params.tamper it also
// writes to the first item's output, which the runner must refuse.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { definePerItemStage } from '../../../pipeline/stage-api.js';

export default definePerItemStage<{ tamper?: boolean }>({
  async processItems(_ctx, items) {
    for (const it of items) {
      mkdirSync(join(it.outDir, 'out'), { recursive: true });
      writeFileSync(join(it.outDir, 'out', it.input.rel.replace(/\//g, '_')), `item ${readFileSync(it.input.path, 'utf8')}`);
    }
  },
  async finalize(ctx, items) {
    const all = items.map((it) => readFileSync(join(ctx.outDir, it.files[0]!), 'utf8')).join(',');
    writeFileSync(join(ctx.outDir, 'all.txt'), all);
    if (ctx.params.tamper) writeFileSync(join(ctx.outDir, items[0]!.files[0]!), 'tampered');
  },
});
