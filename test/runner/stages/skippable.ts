// A per-item stage that can tell up front that no item needs work (like features without weights):
// skipAllItems gives a reason when params.off is set. Each input → `copy/<rel with _>`; logs
// `skip-check`, `item <rel>` and `finalize <n>` to calls.log.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { definePerItemStage, type StageContext } from '../../../pipeline/stage-api.js';

type Params = { off?: boolean };
const log = (ctx: StageContext<Params>, line: string) => appendFileSync(join(ctx.workspace, 'calls.log'), `${line}\n`);

export default definePerItemStage<Params>({
  async skipAllItems(ctx) {
    log(ctx, 'skip-check');
    return ctx.params.off ? 'switched off by params.off' : null;
  },
  async processItems(ctx, items) {
    for (const it of items) {
      mkdirSync(join(it.outDir, 'copy'), { recursive: true });
      writeFileSync(join(it.outDir, 'copy', it.input.rel.replace(/\//g, '_')), 'x');
      log(ctx, `item ${it.input.rel}`);
    }
  },
  async finalize(ctx, items) {
    log(ctx, `finalize ${items.length}`);
    writeFileSync(join(ctx.outDir, 'count.json'), JSON.stringify({ items: items.length }));
  },
});
