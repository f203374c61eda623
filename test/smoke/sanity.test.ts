import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineStage } from '../../pipeline/stage-api.js';

test('defineStage tags a whole stage', () => {
  const s = defineStage({ run: async () => {} });
  assert.is(s.kind, 'whole');
});
test.run();
