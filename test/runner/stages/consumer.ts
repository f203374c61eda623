// A whole stage that reads its deps only by name (params.read, `many`, the optional `none`) and writes
// what it saw into seen.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage } from '../../../pipeline/stage-api.js';

export default defineStage({
  async run(ctx) {
    const cells = ctx.dep(String(ctx.params.read));
    const many = ctx.depList('many').map((d) => `${d.instanceId}=${readFileSync(join(d.dir, 'value.txt'), 'utf8')}`);
    const none = ctx.optionalDep('none');
    writeFileSync(join(ctx.outDir, 'seen.json'), JSON.stringify({
      name: cells.name, stage: cells.stageId, key: cells.key, created: cells.created, seconds: cells.seconds, value: readFileSync(join(cells.dir, 'value.txt'), 'utf8'),
      many, none, declared: Object.keys(ctx.declaredDeps),
    }));
  },
});
