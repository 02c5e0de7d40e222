// limit-bandwidth (weir's own): schema, defaults (burst = rate, per connection, both directions), and the
// throttle each connection gets: its own buckets, or the route's shared ones; UDP admission by datagram.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { limitBandwidth, readLimits } from '../../src/plugins/limit-bandwidth';
import { testConn } from './conn';
import { runConfTable, testContext } from './plugin.cases';

describe('limit-bandwidth: schema', () => {
  runConfTable('limit-bandwidth', [
    ['rate only', { rate: 1048576 }, null],
    ['everything', { rate: 1000, burst: 5000, per: 'route', direction: 'upload' }, null],
    ['missing rate', {}, 'property "rate" is required'],
    ['rate 0', { rate: 0 }, 'property "rate" validation failed: expected 0 to be greater than 0'],
    ['rate fractional', { rate: 1.5 }, 'property "rate" validation failed: wrong type: expected integer, got number'],
    ['burst 0', { rate: 1, burst: 0 }, 'property "burst" validation failed: expected 0 to be greater than 0'],
    ['per unknown', { rate: 1, per: 'client' }, 'property "per" validation failed: matches none of the enum values'],
    ['direction unknown', { rate: 1, direction: 'up' }, 'property "direction" validation failed: matches none of the enum values'],
  ]);
});

describe('limit-bandwidth: limits', () => {
  it('defaults: burst = rate, per connection, both directions', () => {
    assert.deepEqual(readLimits({ rate: 100 }), { rate: 100, burst: 100, upload: true, download: true, perRoute: false });
    assert.deepEqual(readLimits({ rate: 100, burst: 7, direction: 'download', per: 'route' }), { rate: 100, burst: 7, upload: false, download: true, perRoute: true });
  });

  it('per connection: each connection its own buckets; only the limited direction waits', () => {
    const f = limitBandwidth.compile({ rate: 1000, burst: 1000, direction: 'upload' }, testContext());
    const a = testConn();
    const b = testConn();
    f.access!(a);
    f.access!(b);
    assert.notEqual(a.throttle, b.throttle);
    assert.equal(a.throttle!.consumed(true, 1500), 500); // 500 bytes of debt at 1000/s
    assert.equal(b.throttle!.consumed(true, 1000), 0);
    assert.equal(a.throttle!.consumed(false, 1e9), 0); // download is not limited
  });

  it('per route: one throttle shared by the route\'s connections', () => {
    const f = limitBandwidth.compile({ rate: 1000, per: 'route' }, testContext());
    const a = testConn();
    const b = testConn();
    f.access!(a);
    f.access!(b);
    assert.equal(a.throttle, b.throttle);
    assert.equal(a.throttle!.consumed(false, 800), 0);
    assert.ok(b.throttle!.consumed(false, 800) > 0);
  });

  it('datagrams: admitted while the bucket covers them, dropped after', () => {
    const f = limitBandwidth.compile({ rate: 1000, burst: 1000 }, testContext());
    const c = testConn({ protocol: 'udp' });
    f.access!(c);
    assert.deepEqual([600, 300, 200].map((n) => c.throttle!.admit(true, n)), [true, true, false]);
    assert.equal(c.throttle!.admit(false, 1000), true);
  });
});

describe('limit-bandwidth: explain', () => {
  it('never refuses, and says what it holds the connection to', () => {
    assert.deepEqual(limitBandwidth.compile({ rate: 1000 }, testContext()).explain!(testConn()), {
      admits: true, reason: 'never refuses: 1000 bytes/s (burst 1000) per connection, each direction', facts: { rate: 1000, burst: 1000, per: 'connection', direction: 'both' },
    });
    assert.equal(limitBandwidth.compile({ rate: 10, burst: 50, per: 'route', direction: 'upload' }, testContext()).explain!(testConn()).reason, 'never refuses: 10 bytes/s (burst 50) per route, upload');
  });
});
