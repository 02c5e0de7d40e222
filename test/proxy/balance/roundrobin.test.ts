// Smooth weighted round robin: exact sequences, plus the generic balancer properties.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRoundRobin } from '../../../src/proxy/balance/roundrobin';
import { balancerNote, createBalancer } from '../../../src/proxy/balance/index';
import type { Balancer } from '../../../src/proxy/balance/types';
import type { UpstreamNode } from '../../../src/snapshot/types';
import { conn, nameOf, node, runBalancerCases } from './balancer.cases';

function picks(b: Balancer, n: number, tried: readonly UpstreamNode[] = []): Array<string | undefined> {
  return Array.from({ length: n }, () => nameOf(b.pick(conn, tried)));
}

runBalancerCases(createRoundRobin);

describe('roundrobin sequences', () => {
  it('weights a:3 b:1', () => {
    // smooth weighted round-robin, weights a:3 b:1  ->  a a b a | a a b a
    // current before pick (a,b) -> chosen -> after (-total 4 on the chosen)
    //   (3,1) a -> (-1,1) | (2,2) a -> (-2,2) | (1,3) b -> (1,-1) | (4,0) a -> (0,0)  back to start
    assert.deepEqual(picks(createRoundRobin([node('a', 3), node('b', 1)]), 8), ['a', 'a', 'b', 'a', 'a', 'a', 'b', 'a']);
  });
  it('weights a:5 b:1 c:1 spreads the light nodes (nginx example)', () => {
    // (5,1,1) a->(-2,1,1) | (3,2,2) a->(-4,2,2) | (1,3,3) b->(1,-4,3) | (6,-3,4) a->(-1,-3,4)
    // (4,-2,5) c->(4,-2,-2) | (9,-1,-1) a->(2,-1,-1) | (7,0,0) a->(0,0,0)
    assert.deepEqual(picks(createRoundRobin([node('a', 5), node('b', 1), node('c', 1)]), 7), ['a', 'a', 'b', 'a', 'c', 'a', 'a']);
  });
  it('equal weights alternate in node order', () => {
    assert.deepEqual(picks(createRoundRobin([node('a'), node('b'), node('c')]), 6), ['a', 'b', 'c', 'a', 'b', 'c']);
  });
  it('a tried node is left out of the rotation', () => {
    const b = createRoundRobin([node('a', 3), node('b', 1)]);
    assert.deepEqual(picks(b, 3, [node('a')]), ['b', 'b', 'b']);
  });
  it('priority failover order: every priority-1 node, then 0, then -1 (spec 5.3)', () => {
    const b = createRoundRobin([node('p', 1, 0), node('x', 1, 1), node('n', 1, -1), node('y', 1, 1)]);
    const tried: UpstreamNode[] = [];
    const order: Array<string | undefined> = [];
    for (let i = 0; i < 5; i++) {
      const n = b.pick(conn, tried);
      order.push(nameOf(n));
      if (n) tried.push(n);
    }
    assert.deepEqual(order, ['x', 'y', 'p', 'n', undefined]);
  });
});

describe('roundrobin state across versions', () => {
  it('a new version with the same nodes continues the sequence where the old one stopped', () => {
    // a:3 b:1 -> a a | (new version, same nodes) b a   -- not a restart at "a a b a"
    const v1 = createRoundRobin([node('a', 3), node('b', 1)]);
    assert.deepEqual(picks(v1, 2), ['a', 'a']);
    const v2 = createRoundRobin([node('a', 3), node('b', 1)], { prev: v1 });
    assert.deepEqual(picks(v2, 2), ['b', 'a']);
  });
});

describe('createBalancer', () => {
  it('maps every type to its balancer and notes nothing for known types', () => {
    assert.deepEqual(picks(createBalancer('roundrobin', [node('a', 3), node('b', 1)]), 4), ['a', 'a', 'b', 'a']);
    assert.equal(createBalancer('chash', [node('a')]).constructor.name, 'ChashBalancer');
    assert.equal(createBalancer('least_conn', [node('a')]).constructor.name, 'LeastConnBalancer');
    assert.equal(createBalancer('ewma', [node('a')]).constructor.name, 'EwmaBalancer');
    for (const type of ['roundrobin', 'chash', 'least_conn', 'ewma']) assert.equal(balancerNote(type), null);
    assert.equal(balancerNote('foo'), 'unknown balancer foo; using roundrobin');
  });
});
