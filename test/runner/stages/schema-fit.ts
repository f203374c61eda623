// A whole stage with a paramsSchema (tag: string, required; mode: "a" | "b"); logs `fit` to calls.log.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage } from '../../../pipeline/stage-api.js';

export default defineStage({
  paramsSchema: { type: 'object', properties: { tag: { type: 'string' }, mode: { enum: ['a', 'b'] } }, required: ['tag'] },
  async run(ctx) {
    appendFileSync(join(ctx.workspace, 'calls.log'), 'fit\n');
  },
});
