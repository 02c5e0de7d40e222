// updateRouteIndex: an updated index matches exactly like one compiled from scratch, the previous index
// is left as it was, and many changes or an exhausted order gap compile the index again.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRouteIndex, compileRouteRule, matchRoute, type RouteIndex, type RouteRule } from '../../../src/proxy/match/route';
import { updateRouteIndex } from '../../../src/proxy/match/index-update';
import type { ConnInfo } from '../../../src/snapshot/types';

import { NO_FILTERS } from '../../../src/proxy/filter/types';

type RouteDef = [id: string, value: Record<string, unknown>];

function rule([id, value]: RouteDef): RouteRule {
  const r = compileRouteRule(value);
  if (typeof r === 'string') throw new Error(r);
  return { ...r, route: { id, key: `/apisix/stream_routes/${id}`, upstream: null, problem: null, filters: NO_FILTERS } };
}

function compile(defs: RouteDef[]): RouteIndex {
  return compileRouteIndex([...defs].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(rule));
}

function conn(over: Partial<ConnInfo> = {}): ConnInfo {
  return { protocol: 'tcp', remoteAddr: '10.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 9100, sni: null, ...over };
}

/** Connections that tell the routes below apart: ports, client networks, server address, SNIs. */
const PROBES: ConnInfo[] = [9100, 9101, 9102].flatMap((serverPort) =>
  ['10.0.0.1', '10.1.2.3', '192.168.1.9', '2001:db8::5', '::1'].flatMap((remoteAddr) =>
    [null, 'a.test.com', 'x.wild.com', 'other.org'].map((sni) => conn({ serverPort, remoteAddr, sni })),
  ),
).concat([conn({ serverAddr: '127.0.0.2' }), conn({ serverAddr: '127.0.0.2', serverPort: 9101 })]);

const picks = (index: RouteIndex): Array<string | null> => PROBES.map((c) => matchRoute(index, c)?.id ?? null);

const BASE: RouteDef[] = [
  ['a', { server_port: 9100 }],
  ['b', { remote_addr: '10.0.0.0/8' }],
  ['c', { remote_addr: '10.1.0.0/16', server_port: 9101 }],
  ['d', { sni: 'a.test.com' }],
  ['e', { snis: ['*.wild.com', 'a.test.com', '*.wild.com'] }],
  ['f', { remote_addr: '2001:db8::/32' }],
  ['g', { server_addr: '127.0.0.2' }],
  ['h', {}],
];

/** Update BASE with `remove` and `add`, and compare with compiling the result from scratch. */
function check(remove: string[], add: RouteDef[]): RouteIndex {
  const prev = compile(BASE);
  const before = picks(prev);
  const next = updateRouteIndex(prev, new Set(remove), add.map(rule));
  const gone = new Set([...remove, ...add.map(([id]) => id)]);
  const expected = compile([...BASE.filter(([id]) => !gone.has(id)), ...add]);
  assert.deepEqual(picks(next), picks(expected));
  assert.deepEqual(next.entries.map((e) => e.route.id), expected.entries.map((e) => e.route.id));
  assert.deepEqual(picks(prev), before, 'the previous index still matches as before');
  return next;
}

describe('updateRouteIndex', () => {
  it('removes routes of every kind (port, remote prefix v4/v6, sni, snis, server_addr, catch-all)', () => {
    for (const [id] of BASE) check([id], []);
    check(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], []);
  });

  it('adds routes before, between and after the others, into new and existing buckets and levels', () => {
    check([], [['0', { remote_addr: '10.1.2.0/24' }]]);
    check([], [['bb', { remote_addr: '10.0.0.0/8', server_port: 9101 }]]);
    check([], [['z', { sni: 'other.org' }], ['y', { remote_addr: '::/0' }]]);
    check([], [['aa', { server_port: 9100 }], ['ab', { server_port: 9100 }], ['ac', { snis: ['*'] }]]);
  });

  it('replaces routes in place or moves them to another bucket, keeping the order of replaced ones', () => {
    const next = check([], [['b', { remote_addr: '10.0.0.0/8' }], ['d', { remote_addr: '192.168.0.0/16' }]]);
    assert.deepEqual(next.entries.map((e) => e.order), [0, 1, 2, 3, 4, 5, 6, 7]);
    check(['h'], [['e', { server_port: 9102 }], ['a', { sni: '*.wild.com' }]]);
  });

  it('compiles again, renumbering, once a gap between two orders cannot be split any more', () => {
    let index = compile([['a', { server_port: 1 }], ['b', {}]]);
    let id = 'a';
    let renumbered = -1;
    for (let step = 0; step < 100 && renumbered < 0; step++) {
      id += 'a'; // always just after the previous insert, just before "b"
      index = updateRouteIndex(index, new Set(), [rule([id, { server_port: 9100 }])]);
      const orders = index.entries.map((e) => e.order);
      assert.ok(orders.every((o, i) => i === 0 || orders[i - 1]! < o), 'orders strictly increase');
      if (orders.every((o, i) => o === i)) renumbered = step;
    }
    assert.ok(renumbered > 40, `renumbered after ${renumbered} splits`);
    assert.equal(matchRoute(index, conn())?.id, 'aa');
    assert.equal(matchRoute(index, conn({ serverPort: 9101 }))?.id, 'b');
  });

  it('many changes at once: compiled again from the merged list, same matches', () => {
    const many: RouteDef[] = Array.from({ length: 100 }, (_, i) => [`m${String(i).padStart(3, '0')}`, { server_port: 9100 + (i % 3), remote_addr: `10.${i}.0.0/16` }]);
    const next = check(['b', 'h'], many);
    assert.ok(next.entries.every((e, i) => e.order === i), 'renumbered: a compile');
  });
});
