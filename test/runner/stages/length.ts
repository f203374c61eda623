// A per-item stage: each input → `len/<rel>.n` holding its length times params.scale; logs
// `item <instance> <rel>` to calls.log.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { definePerItemStage } from '../../../pipeline/stage-api.js';

export default definePerItemStage<{ scale: number }>({
  async processItems(ctx, items) {
    for (const it of items) {
      const out = join(it.outDir, 'len', `${it.input.rel}.n`);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, String(readFileSync(it.input.path, 'utf8').length * Number(ctx.params.scale)));
      appendFileSync(join(ctx.workspace, 'calls.log'), `item ${ctx.instanceId} ${it.input.rel}\n`);
    }
  },
});
