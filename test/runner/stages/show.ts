// A defineCommand module: `pipe show <instance>` logs the ids of `len`'s instances and the instance's
// summary.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineCommand } from '../../../pipeline/stage-api.js';

export default defineCommand({
  usage: 'pipe show <instance>',
  async run(ctx) {
    const dir = ctx.outputDir(ctx.argv[0]!);
    ctx.log(ctx.instances('len').join(' '));
    ctx.log(readFileSync(join(dir, 'summary.json'), 'utf8'));
    return 0;
  },
});
