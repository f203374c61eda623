// A whole stage driven by the test over a socket (test/runner/controlled-stage.ts): each run() announces
// itself and then waits to be told to finish, fail or hang.
import { defineStage } from '../../../pipeline/stage-api.js';
import { controlled } from './lib/controlled-client.js';

export default defineStage({
  run: (ctx) => controlled(ctx, 'run'),
});
