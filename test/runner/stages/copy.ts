// A per-item stage: each input → `copy/<rel>`, byte for byte.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { definePerItemStage } from '../../../pipeline/stage-api.js';

export default definePerItemStage({
  async processItems(_ctx, items) {
    for (const it of items) {
      const out = join(it.outDir, 'copy', it.input.rel);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, readFileSync(it.input.path));
    }
  },
});
