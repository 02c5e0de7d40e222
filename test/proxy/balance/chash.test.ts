// chash: key readers, stickiness, distribution and remap fraction over 10,000 keys, ring walks past
// unhealthy nodes; plus the generic balancer properties.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileKeyReader, createChash, hashString } from '../../../src/proxy/balance/chash';
import type { BalancerOptions } from '../../../src/proxy/balance/types';
import type { ConnInfo, UpstreamNode } from '../../../src/snapshot/types';
import { conn, downNodes, nameOf, node, runBalancerCases } from './balancer.cases';

runBalancerCases(createChash);

const KEYS = 10_000;
/** Client i of the test population: distinct remote addresses 10.x.y.z. */
function client(i: number): ConnInfo {
  return { ...conn, remoteAddr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, remotePort: 50000 + (i % 1000) };
}

function nodesNamed(names: string, weight = 1): UpstreamNode[] {
  return [...names].map((n) => node(n, weight));
}

/** Node name per client for a balancer over `nodes`. */
function assign(nodes: UpstreamNode[], opts: BalancerOptions = {}): string[] {
  const b = createChash(nodes, opts);
  return Array.from({ length: KEYS }, (_, i) => nameOf(b.pick(client(i), []))!);
}

describe('chash key readers', () => {
  const c: ConnInfo = { protocol: 'tcp', remoteAddr: '10.0.0.1', remotePort: 4000, serverAddr: '10.0.0.9', serverPort: 9100, sni: 'db.test' };
  const table: Array<[string | undefined, string | undefined, string]> = [
    [undefined, undefined, '10.0.0.1'],
    ['vars', 'remote_addr', '10.0.0.1'],
    ['vars', 'remote_port', '4000'],
    ['vars', 'server_addr', '10.0.0.9'],
    ['vars', 'server_port', '9100'],
    ['vars', 'server_name', 'db.test'],
    ['vars', 'uri', ''], // HTTP only: empty, the balancer falls back to remote_addr
    ['vars', 'arg_x', ''],
    ['vars_combinations', '$remote_addr:$server_port', '10.0.0.1:9100'],
    ['vars_combinations', 'k-${server_addr}-${remote_port}!', 'k-10.0.0.9-4000!'],
    ['header', 'X-Id', ''],
    ['cookie', 'sid', ''],
    ['consumer', undefined, '10.0.0.1'],
  ];
  for (const [hashOn, key, want] of table) {
    it(`${hashOn ?? '(default)'} ${key ?? '(no key)'} -> ${JSON.stringify(want)}`, () => {
      assert.equal(compileKeyReader(hashOn, key)(c), want);
    });
  }

  it('a variable a filter set (mqtt_client_id) is read from the connection\'s vars; unset or without vars: empty', () => {
    const withVars: ConnInfo = { ...c, vars: new Map([['mqtt_client_id', 'sensor-7']]) };
    assert.equal(compileKeyReader('vars', 'mqtt_client_id')(withVars), 'sensor-7');
    assert.equal(compileKeyReader(undefined, 'mqtt_client_id')(withVars), 'sensor-7');
    assert.equal(compileKeyReader('vars_combinations', '$mqtt_client_id@$server_port')(withVars), 'sensor-7@9100');
    assert.equal(compileKeyReader('vars', 'mqtt_client_id')(c), '');
    assert.equal(compileKeyReader('vars', 'mqtt_client_id')({ ...c, vars: null }), '');
  });
});

describe('chash', () => {
  it('the same key always lands on the same node; an empty key hashes remote_addr', () => {
    const nodes = nodesNamed('abcde');
    const byAddr = createChash(nodes, { hashOn: 'vars', key: 'remote_addr' });
    const byUri = createChash(nodes, { hashOn: 'vars', key: 'uri' });
    for (let i = 0; i < 200; i++) {
      const first = byAddr.pick(client(i), []);
      assert.equal(byAddr.pick(client(i), []), first);
      assert.equal(byAddr.pick({ ...client(i), remotePort: 1 }, []), first); // the port is not part of the key
      assert.equal(byUri.pick(client(i), []), first);
    }
  });

  it('chash on mqtt_client_id: one id sticks to one node from any address; no id falls back to remote_addr', () => {
    const nodes = nodesNamed('abcde');
    const byId = createChash(nodes, { hashOn: 'vars', key: 'mqtt_client_id' });
    const byAddr = createChash(nodes, { hashOn: 'vars', key: 'remote_addr' });
    const spread = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const id = `client-${i}`;
      const first = nameOf(byId.pick({ ...client(i), vars: new Map([['mqtt_client_id', id]]) }, []));
      spread.add(first!);
      for (const other of [i + 1000, i + 2000]) assert.equal(nameOf(byId.pick({ ...client(other), vars: new Map([['mqtt_client_id', id]]) }, [])), first);
      assert.equal(byId.pick(client(i), []), byAddr.pick(client(i), []));
    }
    assert.equal(spread.size, 5, 'ids spread over every node');
  });

  it('hash_on remote_port spreads one client address over the nodes', () => {
    const b = createChash(nodesNamed('abcd'), { hashOn: 'vars', key: 'remote_port' });
    const seen = new Set<string>();
    for (let p = 1; p <= 200; p++) seen.add(nameOf(b.pick({ ...conn, remotePort: p }, []))!);
    assert.equal(seen.size, 4);
  });

  it('10,000 keys over 10 equal nodes: every node gets 10% +- 2.5 points', () => {
    const counts = new Map<string, number>();
    for (const n of assign(nodesNamed('abcdefghij'))) counts.set(n, (counts.get(n) ?? 0) + 1);
    assert.equal(counts.size, 10);
    for (const [name, count] of counts) assert.ok(count >= 750 && count <= 1250, `${name}: ${count}`);
  });

  it('weights 3:1: about three quarters of the keys go to the heavy node', () => {
    const counts = { a: 0, b: 0 } as Record<string, number>;
    for (const n of assign([node('a', 3), node('b', 1)])) counts[n]!++;
    assert.ok(counts.a! >= 7000 && counts.a! <= 8000, `a: ${counts.a}`);
  });

  it('removing one of 10 nodes moves only its own keys (~1/10)', () => {
    const before = assign(nodesNamed('abcdefghij'));
    const after = assign(nodesNamed('abcdefghi')); // j removed
    let moved = 0;
    for (let i = 0; i < KEYS; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      assert.equal(before[i], 'j', `key ${i} moved from ${before[i]} to ${after[i]}`);
    }
    assert.equal(moved, before.filter((n) => n === 'j').length);
    assert.ok(moved >= 700 && moved <= 1300, `moved ${moved}`);
  });

  it('adding an 11th node takes ~1/11 of the keys, all of them to the new node', () => {
    const before = assign(nodesNamed('abcdefghij'));
    const after = assign(nodesNamed('abcdefghijk'));
    let moved = 0;
    for (let i = 0; i < KEYS; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      assert.equal(after[i], 'k');
    }
    assert.ok(moved >= 600 && moved <= 1200, `moved ${moved}`);
  });

  it("an unhealthy node's keys go to the next node on the ring; the others stay", () => {
    const nodes = nodesNamed('abcde');
    const b = createChash(nodes);
    const healthy = Array.from({ length: 2000 }, (_, i) => nameOf(b.pick(client(i), []))!);
    const down = downNodes('c');
    const withDown = Array.from({ length: 2000 }, (_, i) => nameOf(b.pick(client(i), [], down))!);
    const removed = Array.from({ length: 2000 }, (_, i) => nameOf(createChash(nodesNamed('abde')).pick(client(i), []))!);
    for (let i = 0; i < 2000; i++) {
      if (healthy[i] !== 'c') assert.equal(withDown[i], healthy[i]);
      else assert.notEqual(withDown[i], 'c');
    }
    // skipping by walking the ring is the same as removing the node
    assert.deepEqual(withDown, removed);
  });

  it('a tried node is skipped the same way (retries walk the ring)', () => {
    const b = createChash(nodesNamed('abc'));
    const first = b.pick(client(7), [])!;
    const second = b.pick(client(7), [first])!;
    assert.notEqual(nameOf(second), nameOf(first));
    assert.equal(b.pick(client(7), [first]), second);
  });

  it('hashString is stable (ring positions must not change between versions)', () => {
    assert.equal(hashString(''), hashString(''));
    assert.notEqual(hashString('10.0.0.1'), hashString('10.0.0.2'));
    assert.equal(hashString('127.0.0.1:1995'), 3745303647);
  });
});
