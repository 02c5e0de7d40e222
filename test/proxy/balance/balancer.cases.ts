// Generic properties every balancer must have; each balancer's test file runs them with its constructor.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Balancer, BalancerOptions, NodeHealthView } from '../../../src/proxy/balance/types';
import type { ConnInfo, UpstreamNode } from '../../../src/snapshot/types';

export const conn: ConnInfo = {
  protocol: 'tcp', remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 9100, sni: null,
};

export function node(name: string, weight = 1, priority = 0): UpstreamNode {
  const port = 1000 + name.charCodeAt(0);
  return { host: '127.0.0.1', port, weight, priority, address: `127.0.0.1:${port}`, };
}

/** Name of a picked node ("a" for the node made with node('a')). */
export function nameOf(n: UpstreamNode | undefined): string | undefined {
  return n === undefined ? undefined : String.fromCharCode(n.port - 1000);
}

/** A fixed health view: the named nodes are unhealthy. */
export function downNodes(...names: string[]): NodeHealthView {
  return { unhealthyCount: names.length, isUnhealthy: (n) => names.includes(nameOf(n)!) };
}

export function runBalancerCases(make: (nodes: readonly UpstreamNode[], opts?: BalancerOptions) => Balancer): void {
  describe('balancer generic properties', () => {
    it('always picks one of its nodes', () => {
      const nodes = [node('a', 2), node('b', 1), node('c', 5)];
      const b = make(nodes);
      for (let i = 0; i < 50; i++) assert.ok(nodes.includes(b.pick(conn, [])!));
    });
    it('never picks a weight-0 node', () => {
      const b = make([node('a', 0), node('b', 1)]);
      for (let i = 0; i < 20; i++) assert.equal(nameOf(b.pick(conn, [])), 'b');
      assert.equal(make([node('a', 0)]).pick(conn, []), undefined);
    });
    it('skips tried nodes (by address) and returns undefined when all are tried', () => {
      const nodes = [node('a'), node('b'), node('c')];
      const b = make(nodes);
      const tried: UpstreamNode[] = [];
      for (let i = 0; i < 3; i++) {
        const n = b.pick(conn, tried)!;
        assert.ok(!tried.includes(n), `picked tried node ${n.address}`);
        tried.push({ ...n }); // a copy: identity must not matter
      }
      assert.deepEqual(tried.map(nameOf).sort(), ['a', 'b', 'c']);
      assert.equal(b.pick(conn, tried), undefined);
    });
    it('uses the highest priority group, lower ones only when all higher nodes are tried', () => {
      const nodes = [node('z', 1, -1), node('a', 1, 1), node('m', 1, 0), node('b', 1, 1)];
      const b = make(nodes);
      for (let i = 0; i < 10; i++) assert.ok(['a', 'b'].includes(nameOf(b.pick(conn, []))!));
      const order: string[] = [];
      const tried: UpstreamNode[] = [];
      for (let n = b.pick(conn, tried); n !== undefined && tried.length < 10; n = b.pick(conn, tried)) {
        order.push(nameOf(n)!);
        tried.push(n);
      }
      assert.deepEqual(order.slice(0, 2).sort(), ['a', 'b']);
      assert.deepEqual(order.slice(2), ['m', 'z']);
    });
    it('skips unhealthy nodes while a healthy one remains', () => {
      const b = make([node('a'), node('b', 2), node('c')]);
      for (let i = 0; i < 20; i++) assert.equal(nameOf(b.pick(conn, [], downNodes('a', 'b'))), 'c');
    });
    it('all unhealthy: still picks among them (APISIX: use all nodes)', () => {
      const b = make([node('a'), node('b')]);
      // every pick returns one of them (none is undefined), as a healthy upstream would
      for (let i = 0; i < 20; i++) assert.match(String(nameOf(b.pick(conn, [], downNodes('a', 'b')))), /^[ab]$/);
      assert.equal(nameOf(b.pick(conn, [node('a')], downNodes('a', 'b'))), 'b');
      assert.equal(b.pick(conn, [node('a'), node('b')], downNodes('a', 'b')), undefined);
    });
    it('healthy nodes of a lower priority come before unhealthy ones of a higher priority', () => {
      const b = make([node('a', 1, 1), node('b', 1, 1), node('z', 1, 0)]);
      for (let i = 0; i < 10; i++) assert.equal(nameOf(b.pick(conn, [], downNodes('a', 'b'))), 'z');
    });
    it('a healthy tried node is not retried before the unhealthy ones', () => {
      const b = make([node('a'), node('b')]);
      assert.equal(nameOf(b.pick(conn, [node('a')], downNodes('b'))), 'b');
    });
    it('adopts node states by address from the previous version', () => {
      const prev = make([node('a'), node('b')]);
      const next = make([node('b', 5), node('c')], { prev });
      assert.equal(next.states.size, 2);
      assert.equal(next.states.get(node('b').address), prev.states.get(node('b').address)); // same object
      assert.notEqual(next.states.get(node('c').address), undefined);
      assert.equal(prev.states.get(node('c').address), undefined);
    });
    it('a single node is always picked until tried', () => {
      const b = make([node('a', 3)]);
      assert.equal(nameOf(b.pick(conn, [])), 'a');
      assert.equal(nameOf(b.pick(conn, [])), 'a');
      assert.equal(b.pick(conn, [node('a', 3)]), undefined);
    });
  });
}

