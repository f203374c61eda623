// A whole stage writing params.value into value.txt.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage } from '../../../pipeline/stage-api.js';

export default defineStage({
  async run(ctx) {
    writeFileSync(join(ctx.outDir, 'value.txt'), String(ctx.params.value));
  },
});
