// Node names -> addresses, pure: which hosts are names, and the node list with names expanded.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expandNodes, namesIn } from '../../src/dns/expand';
import type { UpstreamNode } from '../../src/snapshot/types';

const node = (host: string, port: number, weight = 1, priority = 0): UpstreamNode => ({
  host, port, weight, priority, address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
});

describe('namesIn / expandNodes', () => {
  const nodes = [node('db.example.test', 5432, 3, 1), node('10.0.0.9', 5432), node('::1', 5433), node('db.example.test', 6432), node('localhost', 1)];

  it('names are the hosts that are no IP address, once each, in order', () => {
    assert.deepEqual(namesIn(nodes), ['db.example.test', 'localhost']);
    assert.deepEqual(namesIn([node('127.0.0.1', 1)]), []);
  });

  it('a resolved name becomes one node per address with its port, weight and priority; others stay', () => {
    const table: Record<string, readonly string[]> = { 'db.example.test': ['10.0.0.1', 'fd00::2'] };
    assert.deepEqual(expandNodes(nodes, (name) => table[name] ?? null), [
      { host: '10.0.0.1', port: 5432, weight: 3, priority: 1, address: '10.0.0.1:5432', name: 'db.example.test' },
      { host: 'fd00::2', port: 5432, weight: 3, priority: 1, address: '[fd00::2]:5432', name: 'db.example.test' },
      nodes[1],
      nodes[2],
      { host: '10.0.0.1', port: 6432, weight: 1, priority: 0, address: '10.0.0.1:6432', name: 'db.example.test' },
      { host: 'fd00::2', port: 6432, weight: 1, priority: 0, address: '[fd00::2]:6432', name: 'db.example.test' },
      nodes[4], // no answer yet: left as a name
    ]);
  });
});
