// ewma: a deterministic clock shows the fast node preferred, decay giving the slow node another chance,
// failures penalised; plus the generic balancer properties.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createEwma, DECAY_MS } from '../../../src/proxy/balance/ewma';
import type { Balancer } from '../../../src/proxy/balance/types';
import { conn, nameOf, node, runBalancerCases } from './balancer.cases';

runBalancerCases(createEwma);

/** Short sessions: pick, then release at once; returns how often each node was chosen. */
function shortSessions(b: Balancer, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const picked = b.pick(conn, [])!;
    counts[nameOf(picked)!] = (counts[nameOf(picked)!] ?? 0) + 1;
    b.release!(picked);
  }
  return counts;
}

describe('ewma', () => {
  it('nodes never measured take turns', () => {
    const b = createEwma([node('a'), node('b'), node('c')], { now: () => 1000 });
    const seq: string[] = [];
    for (let i = 0; i < 3; i++) {
      const n = b.pick(conn, [])!;
      seq.push(nameOf(n)!);
      b.release!(n);
    }
    assert.deepEqual(seq, ['a', 'b', 'c']);
  });

  it('prefers the fast node over the slow one', () => {
    let clock = 1000;
    const b = createEwma([node('s'), node('f')], { now: () => clock });
    b.observe!(node('s'), 50, true);
    b.observe!(node('f'), 2, true);
    clock += 100;
    // scores: s (50+1)*1 = 51, f (2+1)*1 = 3 -> every short session goes to f
    assert.deepEqual(shortSessions(b, 100), { f: 100 });
  });

  it('held connections eventually spill onto the slow node (latency x in-flight)', () => {
    const b = createEwma([node('s'), node('f')], { now: () => 1000 });
    b.observe!(node('s'), 21, true); // score (21+1) x (active+1)
    b.observe!(node('f'), 2, true); //  score  (2+1) x (active+1)
    const held: string[] = [];
    for (let i = 0; i < 8; i++) held.push(nameOf(b.pick(conn, []))!);
    // f scores 3,6,...,21 for its first seven connections, all below s's 22; the eighth f would score 24
    assert.deepEqual(held, ['f', 'f', 'f', 'f', 'f', 'f', 'f', 's']);
  });

  it('an old slow sample decays towards zero, so the slow node is tried again sooner', () => {
    let clock = 1000;
    const b = createEwma([node('s'), node('f')], { now: () => clock });
    b.observe!(node('s'), 50, true);
    b.observe!(node('f'), 2, true);
    const held = (n: number) => Array.from({ length: n }, () => b.pick(conn, [])!);
    const fresh = held(2);
    assert.deepEqual(fresh.map(nameOf), ['f', 'f']); // s 51 vs f 3, 6
    for (const n of fresh) b.release!(n);
    clock += 6 * DECAY_MS; // s: 50 e^-6 + 1 = 1.12, f: 2 e^-6 + 1 = 1.005
    assert.deepEqual(held(2).map(nameOf), ['f', 's']); // f with one held scores 2.01 > 1.12
  });

  it('a failed connect counts as a slow sample', () => {
    const b = createEwma([node('a'), node('b')], { now: () => 5000 });
    b.observe!(node('a'), 1, false);
    b.observe!(node('b'), 30, true);
    assert.equal(b.states.get(node('a').address)!.ewma, 1000);
    assert.deepEqual(shortSessions(b, 10), { b: 10 });
  });

  it('samples are averaged by time: a sample dt later weighs 1 - e^(-dt/decay)', () => {
    let clock = 1000;
    const b = createEwma([node('a')], { now: () => clock });
    b.observe!(node('a'), 10, true);
    clock += DECAY_MS;
    b.observe!(node('a'), 110, true);
    const w = Math.exp(-1);
    assert.equal(b.states.get(node('a').address)!.ewma, 10 * w + 110 * (1 - w));
  });
});

describe('ewma with reply latency (a node that answers 250 ms later)', () => {
  it('gets no new connection until its average has decayed below the fast one (about a minute), then one, which measures it again', () => {
    let clock = 0;
    const b = createEwma([node('s'), node('f')], { now: () => clock });
    const sample: Record<string, number> = { s: 250, f: 0.5 };
    const slowAt: number[] = [];
    // sequential sessions every 100 ms for 3 minutes, each measured at its first reply
    for (; clock < 180_000; clock += 100) {
      const n = b.pick(conn, [])!;
      if (nameOf(n) === 's') slowAt.push(clock / 1000);
      b.observe!(n, sample[nameOf(n)!]!, true);
      b.release!(n);
    }
    // never measured, the nodes take turns once; after that 250 e^(-t/10 s) + 1 must fall below about 1.5 first
    assert.deepEqual(slowAt, [0, 62.3, 124.6]); // 10 s x ln(250 / 0.5) = 62.1 s, on the next 100 ms session
  });
});
