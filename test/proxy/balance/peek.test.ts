// peek() on every balancer: it names the node pick() returns next, and moves nothing while doing so.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer } from '../../../src/proxy/balance/index';
import type { Balancer, NodeHealthView as HealthView } from '../../../src/proxy/balance/types';
import type { ConnInfo, UpstreamNode } from '../../../src/snapshot/types';
import { conn, downNodes, nameOf, node } from './balancer.cases';

/** Everything a balancer keeps between picks that peek could move: node states and (JSON of) the rest. */
function stateOf(b: Balancer): string {
  return JSON.stringify({ states: [...b.states.values()], self: b });
}

interface Scenario {
  name: string;
  nodes: UpstreamNode[];
  tried?: UpstreamNode[];
  health?: HealthView;
  /** chash: one connection per step (the key), others: the same one. */
  conns?: ConnInfo[];
}

const scenarios: Scenario[] = [
  { name: 'weights 3:1', nodes: [node('a', 3), node('b', 1)] },
  { name: 'equal weights', nodes: [node('a'), node('b'), node('c')] },
  { name: 'priority groups', nodes: [node('z', 1, -1), node('a', 2, 1), node('b', 1, 1)] },
  { name: 'a tried node', nodes: [node('a'), node('b'), node('c')], tried: [node('b')] },
  { name: 'an unhealthy node', nodes: [node('a', 5), node('b', 1)], health: downNodes('a') },
  { name: 'all unhealthy', nodes: [node('a'), node('b')], health: downNodes('a', 'b') },
  { name: 'drained node', nodes: [node('a', 0), node('b', 1)] },
  { name: 'nothing left', nodes: [node('a')], tried: [node('a')] },
  {
    name: 'several clients (chash keys)',
    nodes: [node('a'), node('b'), node('c')],
    conns: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((remoteAddr) => ({ ...conn, remoteAddr })),
  },
];

describe('Balancer.peek', () => {
  for (const type of ['roundrobin', 'least_conn', 'ewma', 'chash']) {
    for (const sc of scenarios) {
      it(`${type}: ${sc.name}`, () => {
        const b = createBalancer(type, sc.nodes, { now: () => 1000 });
        const conns = sc.conns ?? [conn];
        const peeked: Array<string | undefined> = [];
        const picked: Array<string | undefined> = [];
        for (let step = 0; step < 12; step++) {
          const c = conns[step % conns.length]!;
          const before = stateOf(b);
          const p = b.peek(c, sc.tried ?? [], sc.health);
          assert.equal(nameOf(b.peek(c, sc.tried ?? [], sc.health)), nameOf(p), 'peek twice, same answer');
          assert.equal(stateOf(b), before, 'peek moved the balancer');
          const n = b.pick(c, sc.tried ?? [], sc.health);
          peeked.push(nameOf(p));
          picked.push(nameOf(n));
          // keep least_conn/ewma counting some connections, so scores differ between steps
          if (n !== undefined && step % 3 === 2) b.release?.(n);
          if (n !== undefined && step % 4 === 0) b.observe?.(n, step, true);
        }
        assert.deepEqual(peeked, picked);
      });
    }
  }

  it('roundrobin 3:1: the peeked sequence is the smooth WRR sequence', () => {
    // current weights a:3 b:1 -> a a b a | a a b a
    const b = createBalancer('roundrobin', [node('a', 3), node('b', 1)]);
    const seq: Array<string | undefined> = [];
    for (let i = 0; i < 8; i++) {
      seq.push(nameOf(b.peek(conn, [])));
      b.pick(conn, []);
    }
    assert.deepEqual(seq, ['a', 'a', 'b', 'a', 'a', 'a', 'b', 'a']);
  });
});
