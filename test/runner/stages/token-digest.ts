// A whole stage that proves it saw $API_TOKEN without writing it: seen.json holds its length and md5.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage } from '../../../pipeline/stage-api.js';

export default defineStage({
  async run(ctx) {
    const token = process.env.API_TOKEN ?? '';
    ctx.log('using the token');
    writeFileSync(join(ctx.outDir, 'seen.json'), JSON.stringify({ length: token.length, md5: createHash('md5').update(token).digest('hex') }));
  },
});
