// Which waiting instance gets a free slot: the one with the most known work behind it (its own last
// duration plus its longest chain of dependents), not the first to ask; unknown durations count as 0,
// so a workspace with no history keeps the order of arrival.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Slots } from '../../pipeline/exec/slots.js';
import { criticalPathPriorities } from '../../pipeline/exec/critical-path.js';
import type { Instance } from '../../pipeline/config/plan.js';

test('a freed slot goes to the waiter with the highest priority; equal priorities in order of arrival', async () => {
  const slots = new Slots(1, []);
  const held = await slots.acquire(1, 0);
  const order: string[] = [];
  const wait = (name: string, priority: number) => slots.acquire(1, 0, priority).then((g) => (order.push(name), g.release()));
  const all = [wait('low', 1), wait('high', 9), wait('mid', 5), wait('mid, later', 5), wait('none', 0)];
  held.release();
  await Promise.all(all);
  assert.equal(order, ['high', 'mid', 'mid, later', 'low', 'none']);
});

test('priorities: own last duration plus the longest chain of selected dependents; unknown counts as 0', () => {
  const inst = (id: string, deps: string[] = []) => ({ id, deps }) as unknown as Instance;
  const selected = [inst('a'), inst('b', ['a']), inst('c', ['a']), inst('d', ['b', 'c']), inst('e')];
  const seconds: Record<string, number> = { a: 2, b: 3, c: 7, d: 1 };
  const p = criticalPathPriorities(selected, (id) => seconds[id]);
  assert.equal(Object.fromEntries(p), { a: 10, b: 4, c: 8, d: 1, e: 0 });
  // A dependent outside the selection does not count.
  assert.equal(Object.fromEntries(criticalPathPriorities([inst('a')], (id) => seconds[id])), { a: 2 });
});

test.run();
