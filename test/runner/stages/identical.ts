// A per-item stage whose every item writes the same bytes: `same/<rel>.txt` = "identical".
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { definePerItemStage } from '../../../pipeline/stage-api.js';

export default definePerItemStage({
  async processItems(_ctx, items) {
    for (const it of items) {
      const out = join(it.outDir, 'same', `${it.input.rel}.txt`);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, 'identical');
    }
  },
});
