// Table tests of the shadowed-route analysis, and a randomized comparison with brute-force probing of the real
// matcher over route sets drawn from small pools.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchRoute } from '../../../src/proxy/match/route';
import { findShadowedRoutes, findShadowingAround } from '../../../src/proxy/match/shadow';
import { conn, indexOf, namedRules, probeConns, prng, randomRoute, type RouteDef } from './rules';

/** "2<1" = route 2 is shadowed by route 1; "" = nothing is shadowed. */
function verdict(defs: RouteDef[]): string {
  return findShadowedRoutes(namedRules(defs))
    .warnings.map((w) => `${w.route}<${[w.shadowed_by, ...(w.together_with ?? [])].join('+')}`)
    .join(' ');
}

describe('findShadowedRoutes: pairs of condition kinds (route 1 first, route 2 second)', () => {
  const table: Array<[name: string, first: Record<string, unknown>, second: Record<string, unknown>, expected: string]> = [
    ['no conditions over anything', {}, { server_port: 9100 }, '2<1'],
    ['anything after anything', { server_port: 9100 }, {}, ''],
    ['same port', { server_port: 9100 }, { server_port: 9100 }, '2<1'],
    ['other port', { server_port: 9100 }, { server_port: 9101 }, ''],
    ['port over port + remote', { server_port: 9100 }, { server_port: 9100, remote_addr: '10.0.0.0/24' }, '2<1'],
    ['port + remote over port', { server_port: 9100, remote_addr: '10.0.0.0/24' }, { server_port: 9100 }, ''],
    ['/16 over /24 on the same port (the issue example)', { server_port: 9100, remote_addr: '10.0.0.0/16' }, { server_port: 9100, remote_addr: '10.0.1.0/24' }, '2<1'],
    ['/24 over /16', { server_port: 9100, remote_addr: '10.0.1.0/24' }, { server_port: 9100, remote_addr: '10.0.0.0/16' }, ''],
    ['/16 over a /24 outside it', { remote_addr: '10.0.0.0/16' }, { remote_addr: '10.1.0.0/24' }, ''],
    ['/16 on another port', { server_port: 9101, remote_addr: '10.0.0.0/16' }, { server_port: 9100, remote_addr: '10.0.1.0/24' }, ''],
    ['IPv4 /0 over any IPv4 CIDR', { remote_addr: '0.0.0.0/0' }, { remote_addr: '192.0.2.7' }, '2<1'],
    ['IPv4 /0 does not cover a route without remote_addr (IPv6 clients)', { remote_addr: '0.0.0.0/0' }, {}, ''],
    ['IPv6 /0 does not cover IPv4 CIDRs', { remote_addr: '::/0' }, { remote_addr: '10.0.0.0/8' }, ''],
    ['IPv6 /32 over /48', { remote_addr: '2001:db8::/32' }, { remote_addr: '2001:db8:1::/48' }, '2<1'],
    ['IPv6 /48 over /32', { remote_addr: '2001:db8:1::/48' }, { remote_addr: '2001:db8::/32' }, ''],
    ['IPv6 address over the same address', { remote_addr: '2001:db8::1' }, { remote_addr: '2001:db8::1/128' }, '2<1'],
    ['IPv4-mapped rule is the IPv4 rule', { remote_addr: '::ffff:10.0.0.0/104' }, { remote_addr: '10.1.2.3' }, '2<1'],
    ['server_addr over server_addr', { server_addr: '127.0.0.0/8' }, { server_addr: '127.0.0.10' }, '2<1'],
    ['server_addr does not cover remote_addr', { server_addr: '127.0.0.0/8' }, { remote_addr: '127.0.0.1' }, ''],
    ['remote_addr does not cover server_addr', { remote_addr: '0.0.0.0/0' }, { server_addr: '127.0.0.1' }, ''],
    ['all three over a narrower all three', { server_port: 9100, remote_addr: '10.0.0.0/8', server_addr: '127.0.0.0/8' }, { server_port: 9100, remote_addr: '10.2.0.0/16', server_addr: '127.0.0.5' }, '2<1'],
    ['catch-all on the port does not cover an sni route (sni routes are tried first)', { server_port: 9100 }, { server_port: 9100, sni: 'a.test.com' }, ''],
    ['an sni route does not cover a route without sni (plain TCP)', { sni: '*' }, { server_port: 9100 }, ''],
    ['same exact sni', { sni: 'a.test.com' }, { sni: 'A.test.com.' }, '2<1'],
    ['other exact sni', { sni: 'a.test.com' }, { sni: 'b.test.com' }, ''],
    ['"*" over an exact sni: the exact one is tried first', { sni: '*' }, { sni: 'a.test.com' }, ''],
    ['exact sni over "*": "*" still gets other names', { sni: 'a.test.com' }, { sni: '*' }, ''],
    ['wildcard over a longer wildcard: the longer one is tried first', { sni: '*.test.com' }, { sni: '*.a.test.com' }, ''],
    ['same wildcard', { sni: '*.test.com' }, { sni: '*.test.com', server_port: 9100 }, '2<1'],
    ['wildcard does not cover its bare domain', { sni: '*.test.com' }, { sni: 'test.com' }, ''],
    ['sni + port over sni + port + remote', { sni: 'a.test.com', server_port: 9100 }, { sni: 'a.test.com', server_port: 9100, remote_addr: '10.0.0.1' }, '2<1'],
    ['sni over snis that adds a name', { sni: 'a.test.com' }, { snis: ['a.test.com', 'b.test.com'] }, ''],
    ['snis over snis with fewer names', { snis: ['a.test.com', 'b.test.com'] }, { snis: ['b.test.com'] }, '2<1'],
    ['snis with a wildcard over an exact name under it? no: exact is tried first', { snis: ['*.test.com'] }, { sni: 'a.test.com' }, ''],
    ['snis listing the exact name too', { snis: ['a.test.com', '*.test.com'] }, { sni: 'a.test.com' }, '2<1'],
    ['snis over a wildcard it lists', { snis: ['x.org', '*.test.com'] }, { snis: ['*.test.com'] }, '2<1'],
  ];
  for (const [name, first, second, expected] of table) {
    it(name, () => assert.equal(verdict([['1', first], ['2', second]]), expected));
  }
});

describe('findShadowedRoutes: several routes together', () => {
  it('two halves of a /24 cover the /24', () => {
    const defs: RouteDef[] = [['1', { remote_addr: '10.0.0.0/25' }], ['2', { remote_addr: '10.0.0.128/25' }], ['3', { remote_addr: '10.0.0.0/24' }]];
    assert.equal(verdict(defs), '3<1+2');
    const w = findShadowedRoutes(namedRules(defs)).warnings[0]!;
    assert.equal(w.message, 'stream route 3 (remote_addr 10.0.0.0/24) can never match: routes 1, 2 take precedence and together match every connection it matches');
  });
  it('a catch-all sni route and the plain catch-all leave nothing for a later sni route', () => {
    assert.equal(verdict([['1', { sni: '*' }], ['2', { sni: 'a.test.com' }]]), '');
    assert.equal(verdict([['1', { sni: 'a.test.com', server_port: 9100 }], ['2', { sni: 'a.test.com', server_port: 9101 }], ['3', { sni: 'a.test.com' }]]), '');
  });
  it('one port per route, then a route on both ports (only those ports)', () => {
    // route 3 has no port condition: other ports are still its own
    assert.equal(verdict([['1', { server_port: 9100 }], ['2', { server_port: 9101 }], ['3', {}]]), '');
    assert.equal(verdict([['1', { server_port: 9100 }], ['2', { server_port: 9100, remote_addr: '::/0' }], ['3', { server_port: 9100, remote_addr: '0.0.0.0/0' }]]), '2<1 3<1');
  });
  it('IPv4 /0 and IPv6 /0 together cover a route without remote_addr', () => {
    assert.equal(verdict([['1', { remote_addr: '0.0.0.0/0' }], ['2', { remote_addr: '::/0' }], ['3', { server_port: 9100 }]]), '3<1+2');
  });
  it('IPv6 halves around the IPv4-mapped block: no client has a mapped address', () => {
    // ::fffe:0:0/95 = ::fffe:0:0/96 + ::ffff:0:0/96 (the mapped block, which weir sees as IPv4)
    assert.equal(verdict([['1', { remote_addr: '::fffe:0:0/96' }], ['2', { remote_addr: '::fffe:0:0/95' }]]), '2<1');
  });
  it('names the first cover in precedence order', () => {
    assert.equal(verdict([['1', { server_port: 9100 }], ['2', {}], ['3', { server_port: 9100 }]]), '3<1');
  });
  it('message of a single cover', () => {
    const w = findShadowedRoutes(namedRules([['a', { server_port: 9100, remote_addr: '10.0.0.0/16' }], ['b', { server_port: 9100, remote_addr: '10.0.1.9/24' }]])).warnings;
    assert.deepEqual(w, [
      {
        route: 'b',
        shadowed_by: 'a',
        message: 'stream route b (server_port 9100, remote_addr 10.0.1.0/24) can never match: route a (server_port 9100, remote_addr 10.0.0.0/16) takes precedence and matches every connection it matches',
      },
    ]);
  });
  it('gives a winning connection for every route that can win', () => {
    const rules = namedRules([['1', { server_port: 9100, remote_addr: '10.0.0.0/25' }], ['2', { server_port: 9100 }], ['3', { sni: '*.test.com' }]]);
    const report = findShadowedRoutes(rules);
    assert.deepEqual(Object.fromEntries(report.wins), {
      '1': { remoteAddr: '10.0.0.0', serverAddr: '127.0.0.1', serverPort: 9100, sni: null },
      '2': { remoteAddr: '192.0.2.1', serverAddr: '127.0.0.1', serverPort: 9100, sni: null },
      '3': { remoteAddr: '192.0.2.1', serverAddr: '127.0.0.1', serverPort: 9100, sni: 'x.test.com' },
    });
  });
});

describe('findShadowedRoutes against brute force', () => {
  const probes = probeConns();
  it('agrees with probing the real matcher on 50 random route sets', () => {
    const rand = prng(20261);
    let shadowedSeen = 0;
    for (let set = 0; set < 50; set++) {
      const n = 2 + Math.floor(rand() * 10);
      const defs: RouteDef[] = Array.from({ length: n }, (_, i) => [`r${String(i).padStart(2, '0')}`, randomRoute(rand)]);
      const rules = namedRules(defs);
      const index = indexOf(rules);
      const winners = new Set<string>();
      for (const c of probes) {
        const hit = matchRoute(index, c);
        if (hit !== undefined) winners.add(hit.id);
      }
      const report = findShadowedRoutes(rules);
      const brute = rules.map((r) => r.id).filter((id) => !winners.has(id));
      const context = `set ${set}: ${JSON.stringify(defs)}`;
      assert.deepEqual(report.warnings.map((w) => w.route), brute, context);
      assert.deepEqual(report.undecided, [], context);
      shadowedSeen += brute.length;
      // every witness really is won by its route
      for (const [id, sample] of report.wins) assert.equal(matchRoute(index, conn(sample))?.id, id, `${context} witness of ${id}`);
    }
    assert.ok(shadowedSeen > 40, `the pools should make shadowing common (saw ${shadowedSeen})`);
  });
});

describe('findShadowingAround', () => {
  it('gives the full analysis\'s warnings that name the route, on 200 random sets', () => {
    const rand = prng(777);
    for (let set = 0; set < 200; set++) {
      const defs: RouteDef[] = Array.from({ length: 2 + Math.floor(rand() * 14) }, (_, i) => [`r${String(i).padStart(2, '0')}`, randomRoute(rand)]);
      const rules = namedRules(defs);
      const full = findShadowedRoutes(rules).warnings;
      for (const r of rules) {
        const expected = full.filter((w) => w.route === r.id || w.shadowed_by === r.id || (w.together_with ?? []).includes(r.id));
        assert.deepEqual(findShadowingAround(rules, r.id), expected, `${JSON.stringify(defs)} around ${r.id}`);
      }
    }
  });
});
