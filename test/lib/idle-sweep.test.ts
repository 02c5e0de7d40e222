// Idle sweep: the walk (pure, the test drives the clock) notices activity, finds idle items and plans the next
// walk at the earliest deadline; the sweeper with real timers closes a quiet item and keeps a busy one.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IdleSweeper, idleTickMs, sweepItems, type IdleTracked } from '../../src/lib/idle-sweep';

function item(name: string, quietSince: number): IdleTracked & { name: string } {
  return { name, activity: 0, seenActivity: 0, quietSince, idleGroup: null, onIdle() {} };
}

describe('idleTickMs', () => {
  it('is timeout/32 within 10 ms .. 60 s', () => {
    assert.deepEqual([idleTickMs(1000), idleTickMs(2000), idleTickMs(100), idleTickMs(600_000), idleTickMs(86_400_000)], [31.25, 62.5, 10, 18_750, 60_000]);
  });
});

describe('sweepItems', () => {
  it('restarts the quiet time of an item that moved, at the walk that saw it (never earlier)', () => {
    const a = item('a', 0);
    a.activity = 3;
    const r = sweepItems([a], 1000, 400);
    assert.deepEqual([a.quietSince, a.seenActivity, r.idle], [400, 3, null]);
  });

  it('finds items quiet for the whole timeout, and only those', () => {
    const [a, b, c] = [item('a', 0), item('b', 1), item('c', 500)];
    const r = sweepItems([a, b, c], 1000, 1000);
    assert.deepEqual(r.idle?.map((i) => (i as typeof a).name), ['a']);
  });

  it('plans the next walk one step ahead, or at the earliest deadline when that comes first', () => {
    // timeout 1000, step 31.25: b's deadline (1010) is before the next step (1000 + 31.25)
    const r1 = sweepItems([item('a', 500), item('b', 10)], 1000, 1000);
    assert.equal(r1.nextAt, 1010);
    // nothing due within a step: the regular step
    const r2 = sweepItems([item('a', 500)], 1000, 1000);
    assert.equal(r2.nextAt, 1031.25);
    // a deadline closer than a quarter step waits for the quarter step (walks never run back to back)
    const r3 = sweepItems([item('a', 2)], 1000, 1000);
    assert.equal(r3.nextAt, 1000 + 31.25 / 4);
  });

  it('closes an item within one step of its timeout when the walks run at the times they plan', () => {
    // a byte every millisecond until 1005, timeout 1000: the walk at 1031.25 is the last to see one, so the
    // deadline is 2031.25 (26.25 ms after last byte + timeout, under the 31.25 ms step)
    const a = item('a', 0);
    let prev = -1;
    let now = 0;
    let closedAt = -1;
    for (let walks = 0; walks < 200 && closedAt < 0; walks++) {
      if (prev < 1005) a.activity++; // bytes arrived since the previous walk
      const r = sweepItems([a], 1000, now);
      if (r.idle !== null) closedAt = now;
      prev = now;
      now = r.nextAt;
    }
    assert.equal(closedAt, 2031.25);
  });
});

describe('IdleSweeper', () => {
  it('closes a quiet item once, keeps one whose counter moves, and forgets removed items', async () => {
    const sweeper = new IdleSweeper();
    let closed = 0;
    const quiet: IdleTracked = { activity: 0, seenActivity: 0, quietSince: 0, idleGroup: null, onIdle: () => (closed++, sweeper.remove(quiet)) };
    const busy: IdleTracked = { activity: 0, seenActivity: 0, quietSince: 0, idleGroup: null, onIdle: () => assert.fail('busy item closed') };
    const gone: IdleTracked = { activity: 0, seenActivity: 0, quietSince: 0, idleGroup: null, onIdle: () => assert.fail('removed item closed') };
    sweeper.add(quiet, 60);
    sweeper.add(busy, 60);
    sweeper.add(gone, 60);
    sweeper.remove(gone);
    assert.equal(sweeper.size(), 2);
    const keepBusy = setInterval(() => busy.activity++, 10);
    for (let i = 0; i < 300 && closed === 0; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 100));
    clearInterval(keepBusy);
    sweeper.remove(busy);
    assert.deepEqual([closed, sweeper.size(), quiet.idleGroup, gone.idleGroup], [1, 0, null, null]);
  });
});
