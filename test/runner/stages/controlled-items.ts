// A per-item stage driven by the test over a socket (test/runner/controlled-stage.ts): each
// processItems() call (one chunk of items) announces itself and waits to be told what to do.
import { definePerItemStage } from '../../../pipeline/stage-api.js';
import { controlled } from './lib/controlled-client.js';

export default definePerItemStage({
  processItems: (ctx, items) => controlled(ctx, 'items', items),
});
