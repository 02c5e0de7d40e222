// SessionTable: keys, recency order, eviction preferring unproven sessions, idle sweep (pure, no sockets).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SessionEntry, SessionTable } from '../../../src/proxy/session/udp-table';

class S extends SessionEntry {
  constructor(
    readonly name: string,
    scope: number,
    address: string,
    port: number,
    idleMs = 1000,
  ) {
    super(scope, address, port, idleMs);
  }
}

const names = (list: S[]) => list.map((s) => s.name);

describe('SessionTable', () => {
  it('finds a session by listener scope, address and port, and nothing else', () => {
    const t = new SessionTable<S>(10, 0);
    const a = new S('a', 0, '10.0.0.1', 5000);
    const b = new S('b', 1, '10.0.0.1', 5000); // same client, other listener
    const c = new S('c', 0, '::1', 5000);
    for (const s of [a, b, c]) assert.equal(t.add(s), null);
    assert.equal(t.get(0, '10.0.0.1', 5000), a);
    assert.equal(t.get(1, '10.0.0.1', 5000), b);
    assert.equal(t.get(0, '::1', 5000), c);
    assert.equal(t.get(0, '10.0.0.1', 5001), undefined);
    assert.equal(t.get(2, '10.0.0.1', 5000), undefined);
    assert.equal(t.get(0, '10.0.0.2', 5000), undefined);
    assert.equal(t.size, 3);
  });

  it('counts the sessions of an address over its ports and listeners (the per-source cap)', () => {
    const t = new SessionTable<S>(10, 0);
    const a = new S('a', 0, '10.0.0.1', 1);
    const b = new S('b', 0, '10.0.0.1', 2);
    const c = new S('c', 1, '10.0.0.1', 1); // same address and port, other listener
    const d = new S('d', 0, '10.0.0.2', 1);
    for (const s of [a, b, c, d]) t.add(s);
    assert.deepEqual([t.countOf('10.0.0.1'), t.countOf('10.0.0.2'), t.countOf('10.0.0.3')], [3, 1, 0]);
    t.remove(b);
    t.remove(d);
    assert.deepEqual([t.countOf('10.0.0.1'), t.countOf('10.0.0.2')], [2, 0]);
  });

  it('counts the sessions of each listener scope through add, eviction, remove and sweep (a listener\'s max_connections)', () => {
    const t = new SessionTable<S>(3, 0);
    const a = new S('a', 0, '10.0.0.1', 1, 100);
    const b = new S('b', 0, '10.0.0.2', 1, 1000);
    const c = new S('c', 1, '10.0.0.1', 1, 1000);
    for (const s of [a, b, c]) t.add(s);
    assert.deepEqual([t.countIn(0), t.countIn(1), t.countIn(7)], [2, 1, 0]);
    assert.equal(names([t.add(new S('d', 1, '10.0.0.3', 1))!])[0], 'a', 'at the cap, a is evicted');
    assert.deepEqual([t.countIn(0), t.countIn(1)], [1, 2]);
    t.remove(b);
    t.remove(b);
    assert.deepEqual([t.countIn(0), t.countIn(1)], [0, 2]);
    const out: S[] = [];
    t.sweep(5000, out);
    assert.deepEqual([names(out).sort(), t.countIn(0), t.countIn(1)], [['c', 'd'], 0, 0]);
  });

  it('remove takes a session out once', () => {
    const t = new SessionTable<S>(10, 0);
    const a = new S('a', 0, '10.0.0.1', 1);
    t.add(a);
    assert.equal(t.remove(a), true);
    assert.equal(t.remove(a), false);
    assert.equal(t.get(0, '10.0.0.1', 1), undefined);
    assert.equal(t.size, 0);
    assert.deepEqual(t.entries(), []);
  });

  it('at the cap evicts the least recently active session', () => {
    const t = new SessionTable<S>(3, 0);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n, i) => new S(n, 0, '10.0.0.1', 100 + i));
    t.add(a!);
    t.add(b!);
    t.add(c!);
    t.touch(a!); // recency now: b c a
    assert.deepEqual(names(t.entries()), ['b', 'c', 'a']);
    assert.equal(t.add(d!), b);
    assert.equal(b!.list, 0);
    assert.equal(t.get(0, '10.0.0.1', 101), undefined);
    assert.deepEqual(names(t.entries()), ['c', 'a', 'd']);
    assert.equal(t.size, 3);
  });

  it('a flood of new sessions evicts only unproven ones; assured sessions stay', () => {
    const t = new SessionTable<S>(4, 0);
    const old1 = new S('old1', 0, '192.0.2.1', 1);
    const old2 = new S('old2', 0, '192.0.2.2', 1);
    t.add(old1);
    t.add(old2);
    t.assure(old1);
    t.assure(old2);
    assert.equal(t.assuredCount, 2);
    const evicted: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const victim = t.add(new S(`f${i}`, 0, '203.0.113.9', 10000 + i));
      if (victim !== null) evicted.push(victim.name);
    }
    assert.equal(evicted.length, 998);
    assert.deepEqual(evicted.slice(0, 3), ['f0', 'f1', 'f2']);
    assert.ok(!evicted.includes('old1') && !evicted.includes('old2'));
    assert.equal(t.get(0, '192.0.2.1', 1), old1);
    assert.equal(t.get(0, '192.0.2.2', 1), old2);
    assert.deepEqual(names(t.entries()), ['f998', 'f999', 'old1', 'old2']);
  });

  it('evicts an assured session when every session is assured', () => {
    const t = new SessionTable<S>(2, 0);
    const a = new S('a', 0, '10.0.0.1', 1);
    const b = new S('b', 0, '10.0.0.1', 2);
    t.add(a);
    t.add(b);
    t.assure(b);
    t.assure(a); // assured recency: b a
    assert.equal(t.add(new S('c', 0, '10.0.0.1', 3)), b);
  });

  it('sweep removes sessions idle for their own idle time, at the given clock', () => {
    const t = new SessionTable<S>(10, 1000);
    const short = new S('short', 0, '10.0.0.1', 1, 100);
    const long = new S('long', 0, '10.0.0.1', 2, 500);
    const busy = new S('busy', 0, '10.0.0.1', 3, 100);
    t.add(short);
    t.add(long);
    t.add(busy);
    t.assure(long);
    const out: S[] = [];
    t.sweep(1050, out);
    assert.deepEqual(out, []);
    t.touch(busy); // active at 1050
    t.sweep(1100, out);
    assert.deepEqual(names(out), ['short']);
    assert.equal(t.now, 1100);
    t.sweep(1149, out);
    assert.deepEqual(names(out), ['short']);
    t.sweep(1150, out);
    assert.deepEqual(names(out), ['short', 'busy']);
    t.sweep(1500, out);
    assert.deepEqual(names(out), ['short', 'busy', 'long']);
    assert.equal(t.size, 0);
  });

  it('with a clock step, a session is never ended before its idle time: activity stamped a step early waits a step more', () => {
    const t = new SessionTable<S>(10, 1000);
    t.clockStepMs = 250;
    const s = new S('s', 0, '10.0.0.1', 1, 1000);
    t.add(s); // stamped 1000 (the last tick), though the datagram may have come at 1249
    const out: S[] = [];
    t.sweep(2000, out); // 1000 ms after the stamp: maybe only 751 ms after the datagram
    t.sweep(2249, out);
    assert.deepEqual(out, []);
    t.sweep(2250, out); // at least 1001 ms after the datagram, at most a step late
    assert.deepEqual(names(out), ['s']);
  });

  it('sweep with a cap ends sessions quiet for the cap even when their own idle time is longer', () => {
    const t = new SessionTable<S>(10, 0);
    const long = new S('long', 0, '10.0.0.1', 1, 600_000);
    const fresh = new S('fresh', 0, '10.0.0.1', 2, 600_000);
    t.add(long);
    t.sweep(900, []);
    t.add(fresh);
    const out: S[] = [];
    t.sweep(1000, out, 1000);
    assert.deepEqual(names(out), ['long']);
    assert.deepEqual(names(t.entries()), ['fresh']);
  });

  it('rejects a cap that is not a positive integer', () => {
    assert.throws(() => new SessionTable<S>(0, 0), RangeError);
    assert.throws(() => new SessionTable<S>(1.5, 0), RangeError);
  });
});
