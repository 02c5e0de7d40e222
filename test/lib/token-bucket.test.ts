// TokenBucket: burst first, then the rate; debt and the wait it asks for; tryTake for datagrams.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../src/lib/token-bucket';

describe('TokenBucket', () => {
  it('starts full, goes into debt, and names the wait until it is paid back', () => {
    const b = new TokenBucket(1000, 500, 0); // 1000 bytes/s, burst 500
    assert.equal(b.take(400, 0), 0); // 100 left
    assert.equal(b.take(300, 0), 200); // -200: 200 ms at 1000/s
    assert.equal(b.take(0, 100), 100); // -100 after 100 ms
    assert.equal(b.take(0, 200), 0); // paid back
    assert.equal(b.balance(10_000), 500); // never above the burst
  });

  it('over a long run, moves rate x time + burst, whatever the chunk sizes', () => {
    const b = new TokenBucket(1_000_000, 100_000, 0);
    let now = 0;
    let moved = 0;
    // a reader that reads 64 KiB whenever it may, and otherwise waits what it is told
    while (now < 5000) {
      const wait = b.take(65536, now);
      moved += 65536;
      now += wait;
    }
    const expected = 1_000_000 * 5 + 100_000;
    assert.ok(Math.abs(moved - expected) <= 65536 * 2, `moved ${moved}, expected ${expected}`);
  });

  it('tryTake takes only what the balance covers', () => {
    const b = new TokenBucket(100, 100, 0);
    assert.equal(b.tryTake(60, 0), true);
    assert.equal(b.tryTake(60, 0), false);
    assert.equal(b.tryTake(40, 0), true);
    assert.equal(b.tryTake(10, 50), false); // 50 ms at 100/s brought 5 bytes back
    assert.equal(b.tryTake(5, 50), true);
  });
});
