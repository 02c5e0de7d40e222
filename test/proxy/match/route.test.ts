// Table tests for stream route matching: address, port and sni filters, precedence, and index cost.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRouteIndex, compileRouteRule, matchRoute, type RouteIndex, type RouteRule } from '../../../src/proxy/match/route';
import { NO_FILTERS } from '../../../src/proxy/filter/types';
import type { ConnInfo } from '../../../src/snapshot/types';

type RouteDef = [id: string, value: Record<string, unknown>];

function compile(defs: RouteDef[]) {
  const rules: RouteRule[] = defs.map(([id, value]) => {
    const rule = compileRouteRule(value);
    if (typeof rule === 'string') throw new Error(rule);
    return { ...rule, route: { id, key: `/apisix/stream_routes/${id}`, upstream: null, problem: null, filters: NO_FILTERS } };
  });
  return compileRouteIndex(rules);
}

function conn(over: Partial<ConnInfo> = {}): ConnInfo {
  return { protocol: 'tcp', remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 9100, sni: null, ...over };
}

function pick(defs: RouteDef[], c: Partial<ConnInfo>): string | undefined {
  return matchRoute(compile(defs), conn(c))?.id;
}

describe('compileRouteRule', () => {
  it('names the bad field of a hand-edited row', () => {
    assert.equal(compileRouteRule({ remote_addr: ':/8' }), 'invalid remote_addr: :/8');
    assert.equal(compileRouteRule({ server_addr: '127.1' }), 'invalid server_addr: 127.1');
    assert.equal(compileRouteRule({ server_port: 70000 }), 'invalid server_port: 70000');
    assert.equal(compileRouteRule({ server_port: '80' }), 'invalid server_port: 80');
    assert.equal(compileRouteRule({ sni: 5 }), 'invalid sni: 5');
  });
  it('normalises sni (lowercase, no trailing dot)', () => {
    const rule = compileRouteRule({ sni: 'A.Test.COM.' });
    assert.equal(typeof rule === 'string' ? rule : rule.sni, 'a.test.com');
  });
});

describe('matchRoute: conditions', () => {
  const table: Array<[name: string, route: Record<string, unknown>, c: Partial<ConnInfo>, hit: boolean]> = [
    ['empty route matches anything', {}, {}, true],
    ['remote_addr exact', { remote_addr: '127.0.0.1' }, {}, true],
    ['remote_addr exact, other client', { remote_addr: '127.0.0.2' }, {}, false],
    ['remote_addr /26 contains .1 (APISIX test)', { remote_addr: '127.0.0.1/26' }, {}, true],
    ['remote_addr /26 upper edge', { remote_addr: '127.0.0.1/26' }, { remoteAddr: '127.0.0.63' }, true],
    ['remote_addr /26 outside', { remote_addr: '127.0.0.1/26' }, { remoteAddr: '127.0.0.64' }, false],
    ['remote_addr /0 matches every IPv4', { remote_addr: '0.0.0.0/0' }, { remoteAddr: '203.0.113.9' }, true],
    ['remote_addr /0 IPv4 never matches IPv6', { remote_addr: '0.0.0.0/0' }, { remoteAddr: '::1' }, false],
    ['remote_addr ::/0 never matches IPv4', { remote_addr: '::/0' }, { remoteAddr: '127.0.0.1' }, false],
    ['remote_addr ::/0 matches IPv6', { remote_addr: '::/0' }, { remoteAddr: '2001:db8::1' }, true],
    ['remote_addr ::1', { remote_addr: '::1' }, { remoteAddr: '::1' }, true],
    ['remote_addr ::1 vs ::2', { remote_addr: '::1' }, { remoteAddr: '::2' }, false],
    ['remote_addr v6 /60 inside', { remote_addr: '2001:db8:0:10::/60' }, { remoteAddr: '2001:db8:0:1f::5' }, true],
    ['remote_addr v6 /60 outside', { remote_addr: '2001:db8:0:10::/60' }, { remoteAddr: '2001:db8:0:20::5' }, false],
    ['mapped rule matches IPv4 client', { remote_addr: '::ffff:127.0.0.1' }, {}, true],
    ['mapped /104 rule is 127.0.0.0/8', { remote_addr: '::ffff:127.0.0.0/104' }, { remoteAddr: '127.9.9.9' }, true],
    ['mapped client (not unwrapped) matches IPv4 rule', { remote_addr: '127.0.0.1' }, { remoteAddr: '::ffff:127.0.0.1' }, true],
    ['server_addr exact', { server_addr: '127.0.0.1' }, {}, true],
    ['server_addr other', { server_addr: '127.0.0.10' }, {}, false],
    ['server_addr CIDR', { server_addr: '127.0.0.0/8' }, { serverAddr: '127.0.0.10' }, true],
    ['server_addr v6', { server_addr: '::1' }, { serverAddr: '::1' }, true],
    ['server_addr v6 vs v4 listener', { server_addr: '::1' }, {}, false],
    ['server_port equal', { server_port: 9100 }, {}, true],
    ['server_port other', { server_port: 9101 }, {}, false],
    ['all three hold', { remote_addr: '127.0.0.0/24', server_addr: '127.0.0.1', server_port: 9100 }, {}, true],
    ['all three, port differs', { remote_addr: '127.0.0.0/24', server_addr: '127.0.0.1', server_port: 9101 }, {}, false],
    ['all three, server differs', { remote_addr: '127.0.0.0/24', server_addr: '127.0.0.2', server_port: 9100 }, {}, false],
    ['sni route never matches plain TCP', { sni: 'a.test.com' }, {}, false],
    ['sni route matches its SNI', { sni: 'a.test.com' }, { sni: 'a.test.com' }, true],
    ['route without sni matches a TLS connection', { server_port: 9100 }, { sni: 'a.test.com' }, true],
  ];
  for (const [name, route, c, hit] of table) {
    it(name, () => assert.equal(pick([['1', route]], c), hit ? '1' : undefined));
  }
});

describe('matchRoute: precedence', () => {
  it('first route in id order wins, whatever index bucket it is in', () => {
    const defs: RouteDef[] = [
      ['1', { server_port: 9100, remote_addr: '10.0.0.0/8' }], // does not pass
      ['2', { remote_addr: '127.0.0.0/8' }],
      ['3', { server_port: 9100 }],
      ['4', {}],
      ['5', { remote_addr: '127.0.0.1', server_port: 9100 }],
    ];
    assert.equal(pick(defs, {}), '2');
    assert.equal(pick(defs.slice(2), {}), '3');
    assert.equal(pick(defs.slice(3), {}), '4');
    assert.equal(pick(defs.slice(4), {}), '5');
    assert.equal(pick([defs[4]!, defs[3]!], {}), '5', 'order given to compileRouteIndex is the precedence');
  });
  it('skips a better-ranked candidate whose server_addr fails', () => {
    assert.equal(pick([['a', { server_port: 9100, server_addr: '127.0.0.2' }], ['b', { server_port: 9100 }]], {}), 'b');
  });
  it('returns undefined with no routes or no passing route', () => {
    assert.equal(pick([], {}), undefined);
    assert.equal(pick([['1', { server_port: 1 }], ['2', { remote_addr: '10.0.0.1' }]], {}), undefined);
  });
});

describe('matchRoute: SNI order (spec 4.3)', () => {
  const defs: RouteDef[] = [
    ['1', { sni: 'a.test.com', remote_addr: '127.0.0.2' }],
    ['2', { sni: 'a.test.com', remote_addr: '127.0.0.1' }],
    ['3', { sni: '*.test.com' }],
    ['4', { sni: '*.b.test.com' }],
    ['5', { sni: '*' }],
    ['6', {}],
  ];
  it('exact name, same-sni routes told apart by address', () => assert.equal(pick(defs, { sni: 'a.test.com' }), '2'));
  it('exact routes failing their filters fall through to the wildcard', () => {
    assert.equal(pick(defs, { sni: 'a.test.com', remoteAddr: '127.0.0.3' }), '3');
  });
  it('longest wildcard suffix first, any number of labels', () => {
    assert.equal(pick(defs, { sni: 'x.b.test.com' }), '4');
    assert.equal(pick(defs, { sni: 'x.y.test.com' }), '3');
  });
  it('"*.test.com" does not cover test.com; "*" does', () => assert.equal(pick(defs, { sni: 'test.com' }), '5'));
  it('no sni route passes: routes without sni are tried', () => {
    assert.equal(pick(defs.filter(([id]) => id !== '5'), { sni: 'other.org' }), '6');
  });
  it('plain TCP ignores every sni route', () => assert.equal(pick(defs, {}), '6'));
});

/**
 * Counts the candidates matchRoute examines without a counter on the hot path: every non-sni candidate's
 * `server` condition is read exactly once when it is examined, so each entry in the index gets a getter
 * that counts those reads.
 */
function countExamined(index: RouteIndex): { n: number } {
  const seen = { n: 0 };
  const instrument = (entries: Iterable<RouteRule>): void => {
    for (const e of entries) {
      const server = e.server;
      Object.defineProperty(e, 'server', { get: () => (seen.n++, server) });
    }
  };
  const buckets = [index.noRemote, ...index.v4.flatMap((l) => [...l.map.values()]), ...index.v6.flatMap((l) => [...l.map.values()])];
  for (const b of buckets) {
    instrument(b.any);
    for (const list of b.byPort.values()) instrument(list);
  }
  return seen;
}

describe('matchRoute: index cost', () => {
  it('examines only candidates among 10,000 routes on other ports and addresses', () => {
    const defs: RouteDef[] = [];
    for (let i = 0; i < 5000; i++) defs.push([`a${String(i).padStart(5, '0')}`, { server_port: 20000 + i }]);
    for (let i = 0; i < 5000; i++) {
      defs.push([`b${String(i).padStart(5, '0')}`, { remote_addr: `10.${(i >> 8) & 255}.${i & 255}.0/24`, server_port: 9100 }]);
    }
    defs.push(['c', { remote_addr: '127.0.0.0/8', server_port: 9100 }]);
    defs.push(['d', { server_port: 9100 }]);
    const index = compile(defs);
    const examined = countExamined(index);
    assert.equal(matchRoute(index, conn())?.id, 'c');
    // exactly the two real candidates ('c' by address, 'd' by port), none of the 10,000 others
    assert.equal(examined.n, 2);
    examined.n = 0;
    assert.equal(matchRoute(index, conn({ remoteAddr: '10.0.7.9' }))?.id, 'b00007');
    assert.equal(examined.n, 2); // 'd' and 'b00007'
    examined.n = 0;
    assert.equal(matchRoute(index, conn({ serverPort: 24999, remoteAddr: '192.0.2.1' }))?.id, 'a04999');
    assert.equal(examined.n, 1);
    examined.n = 0;
    assert.equal(matchRoute(index, conn({ serverPort: 9, remoteAddr: '192.0.2.1' })), undefined);
    assert.equal(examined.n, 0);
  });
});
