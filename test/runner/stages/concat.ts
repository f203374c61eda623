// A whole stage that concatenates its inputs with params.tag into out.txt (params.fail: throw a
// StageError); logs `run <instance>` to calls.log.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage, StageError } from '../../../pipeline/stage-api.js';

export default defineStage<{ tag: string; fail?: boolean }>({
  paramsSchema: { type: 'object', properties: { tag: { type: 'string' } }, required: ['tag'] },
  async run(ctx) {
    appendFileSync(join(ctx.workspace, 'calls.log'), `run ${ctx.instanceId}\n`);
    if (ctx.params.fail) throw new StageError('asked to fail', 'params.fail');
    ctx.progress(1, 1);
    const body = ctx.inputs.map((f) => `${f.rel}=${readFileSync(f.path, 'utf8')}`).join('\n');
    writeFileSync(join(ctx.outDir, 'out.txt'), `${ctx.params.tag}\n${body}`);
  },
});
