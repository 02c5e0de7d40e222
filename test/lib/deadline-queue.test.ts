// DeadlineQueue (src/lib/deadline-queue.ts): one timer per timeout value, FIFO, lazy removal; the Bun plane's
// connect timeouts.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineQueue } from '../../src/lib/deadline-queue';

interface Item {
  name: string;
  deadline: number;
  slot: number;
}

const item = (name: string): Item => ({ name, deadline: 0, slot: 0 });
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('DeadlineQueue', () => {
  it('expires items in start order, not before their deadline, and skips removed ones', async () => {
    const expired: Array<[string, number]> = [];
    const q = new DeadlineQueue<Item>(40, (it) => expired.push([it.name, Date.now() - it.deadline]));
    const [a, b, c] = [item('a'), item('b'), item('c')];
    q.add(a, Date.now());
    await wait(15);
    q.add(b, Date.now());
    q.add(c, Date.now());
    q.remove(b); // connected in time
    q.remove(b); // a second settle is harmless
    assert.equal(q.size(), 2);
    for (let i = 0; i < 100 && expired.length < 2; i++) await wait(10);
    assert.deepEqual(expired.map(([n]) => n), ['a', 'c']);
    for (const [, late] of expired) assert.ok(late >= 0, `expired ${-late} ms early`);
    assert.equal(q.size(), 0);
    assert.equal(q.held(), 0);
  });

  it('lets expire() start a new wait on the same queue (a retry with the same timeout)', async () => {
    const order: string[] = [];
    const q: DeadlineQueue<Item> = new DeadlineQueue<Item>(20, (it) => {
      order.push(it.name);
      if (it.name === 'first') q.add(item('retry'), Date.now());
    });
    q.add(item('first'), Date.now());
    for (let i = 0; i < 100 && order.length < 2; i++) await wait(10);
    assert.deepEqual(order, ['first', 'retry']);
  });

  it('keeps memory to the dials in flight when dials settle in order', () => {
    const q = new DeadlineQueue<Item>(60_000, () => assert.fail('nothing should expire'));
    const live: Item[] = [];
    for (let i = 0; i < 10_000; i++) {
      const it = item(String(i));
      q.add(it, Date.now());
      live.push(it);
      if (live.length > 10) q.remove(live.shift()!); // about ten dials in flight at any time
    }
    assert.equal(q.size(), 10);
    assert.ok(q.held() <= 200, `holds ${q.held()} slots for 10 dials`);
    for (const it of live) q.remove(it);
    assert.equal(q.held(), 0);
  });

  it('keeps memory bounded behind a head that never settles (an upstream that never answers)', () => {
    const q = new DeadlineQueue<Item>(60_000, () => assert.fail('nothing should expire'));
    const stuck = item('stuck');
    q.add(stuck, Date.now());
    let prev: Item | null = null;
    for (let i = 0; i < 10_000; i++) {
      const it = item(String(i));
      q.add(it, Date.now());
      if (prev !== null) q.remove(prev);
      prev = it;
    }
    assert.equal(q.size(), 2);
    assert.ok(q.held() <= 1024, `holds ${q.held()} slots for 2 dials`);
    q.remove(prev!);
    q.remove(stuck);
    assert.equal(q.size(), 0);
    assert.equal(q.held(), 0);
  });

  it('ignores remove() of an item that already expired', async () => {
    let n = 0;
    const q = new DeadlineQueue<Item>(10, () => n++);
    const a = item('a');
    q.add(a, Date.now());
    for (let i = 0; i < 100 && n === 0; i++) await wait(5);
    q.remove(a);
    assert.equal(n, 1);
    assert.equal(q.size(), 0);
  });
});
