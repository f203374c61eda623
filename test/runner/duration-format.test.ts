// How loggers and commands write a duration: seconds with two decimals, then one, then minutes and whole
// seconds, never a "60 s" that should have carried into the minutes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { seconds } from '../../pipeline/log/format.js';

test('short, medium and long durations', () => {
  assert.is(seconds(3_270), '3.27 s');
  assert.is(seconds(87_300), '87.3 s');
  assert.is(seconds(757_000), '12 min 37 s');
});

test('a remainder that rounds to a whole minute carries into the minutes', () => {
  assert.is(seconds(22 * 60_000 + 59_600), '23 min 0 s');
  assert.is(seconds(2 * 60_000 + 59_499), '2 min 59 s');
  assert.is(seconds(120_000), '2 min 0 s');
});

test.run();
