// least_conn: exact picks with long-lived connections, weights, release, plus the generic balancer properties.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLeastConn } from '../../../src/proxy/balance/least-conn';
import type { UpstreamNode } from '../../../src/snapshot/types';
import { conn, nameOf, node, runBalancerCases } from './balancer.cases';

runBalancerCases(createLeastConn);

describe('least_conn', () => {
  it('weights 3:1: the first connection goes to the heavier node (spec 9.22)', () => {
    assert.equal(nameOf(createLeastConn([node('b', 1), node('a', 3)]).pick(conn, [])), 'a');
  });

  it('long-lived connections spread by (active+1)/weight', () => {
    // a:3 b:1, nothing released. Scores (a, b) before each pick; ties go to the node the rotating scan meets first
    //   (1/3, 1) a | (2/3, 1) a | (1, 1) tie, scan from a -> a | (4/3, 1) b
    //   (4/3, 2) a | (5/3, 2) a | (2, 2) tie, scan from a -> a | (7/3, 2) b      -> 6 on a, 2 on b: the weights
    const b = createLeastConn([node('a', 3), node('b', 1)]);
    const held = Array.from({ length: 8 }, () => nameOf(b.pick(conn, [])));
    assert.deepEqual(held, ['a', 'a', 'a', 'b', 'a', 'a', 'a', 'b']);
    assert.equal(b.states.get(node('a').address)!.active, 6);
  });

  it('a released connection makes its node the least loaded again', () => {
    const b = createLeastConn([node('a'), node('b'), node('c')]);
    const first = [b.pick(conn, [])!, b.pick(conn, [])!, b.pick(conn, [])!];
    assert.deepEqual(first.map(nameOf).sort(), ['a', 'b', 'c']); // one each
    const b1 = first.find((n) => nameOf(n) === 'b')!;
    b.release!(b1);
    assert.equal(nameOf(b.pick(conn, [])), 'b'); // the only node with 0 active
    assert.equal(b.states.get(node('a').address)!.active, 1);
    assert.equal(b.states.get(node('b').address)!.active, 1);
  });

  it('short connections with equal weights take turns instead of piling onto the first node', () => {
    const b = createLeastConn([node('a'), node('b'), node('c')]);
    const seq: string[] = [];
    for (let i = 0; i < 6; i++) {
      const n = b.pick(conn, [])!;
      seq.push(nameOf(n)!);
      b.release!(n);
    }
    assert.deepEqual(seq, ['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('release never drives a count below zero, and counts survive a new version with the same nodes', () => {
    const v1 = createLeastConn([node('a'), node('b')]);
    const held: UpstreamNode[] = [v1.pick(conn, [])!, v1.pick(conn, [])!, v1.pick(conn, [])!];
    assert.deepEqual(held.map(nameOf), ['a', 'b', 'a']);
    const v2 = createLeastConn([node('a'), node('b')], { prev: v1 });
    assert.equal(nameOf(v2.pick(conn, [])), 'b'); // a holds 2, b holds 1
    for (const n of held) v1.release!(n); // sessions of the old version end
    assert.equal(v2.states.get(node('a').address)!.active, 0);
    assert.equal(v2.states.get(node('b').address)!.active, 1);
    v1.release!(node('a'));
    assert.equal(v2.states.get(node('a').address)!.active, 0);
  });
});
