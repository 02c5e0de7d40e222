// The match replay: first failed condition per route, the matcher's order, and agreement with matchRoute.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { explainMatch, matchOrder, sniPatternCovers } from '../../../src/proxy/match/explain';
import { matchRoute } from '../../../src/proxy/match/route';
import { conn, indexOf, namedRules, probeConns, prng, randomRoute, type RouteDef } from './rules';

describe('explainMatch: reasons', () => {
  const defs: RouteDef[] = [
    ['1', { server_port: 9101 }],
    ['2', { server_port: 9100, remote_addr: '10.0.1.0/24' }],
    ['3', { server_port: 9100, remote_addr: '10.0.0.8' }],
    ['4', { server_addr: '127.0.0.0/8', remote_addr: '10.0.0.0/16' }],
    ['5', { sni: '*.a.test.com' }],
    ['6', { snis: ['x.org', 'y.org'] }],
    ['7', { server_addr: '::1' }],
    ['8', { server_port: 9100 }],
  ];
  const rules = namedRules(defs);

  it('names the first failed condition of every earlier route (plain TCP: id order)', () => {
    const e = explainMatch(rules, conn({ remoteAddr: '10.0.0.7', serverAddr: '192.0.2.1', serverPort: 9100 }));
    assert.equal(e.winner?.id, '8');
    assert.deepEqual(e.skipped, [
      { id: '1', field: 'server_port', reason: 'server_port 9100 ≠ 9101' },
      { id: '2', field: 'remote_addr', reason: 'remote_addr 10.0.0.7 ∉ 10.0.1.0/24' },
      { id: '3', field: 'remote_addr', reason: 'remote_addr 10.0.0.7 ≠ 10.0.0.8' },
      { id: '4', field: 'server_addr', reason: 'server_addr 192.0.2.1 ∉ 127.0.0.0/8' },
      { id: '5', field: 'sni', reason: 'sni (none) ≠ *.a.test.com' },
      { id: '6', field: 'sni', reason: 'sni (none) ≠ [x.org, y.org]' },
      { id: '7', field: 'server_addr', reason: 'server_addr 192.0.2.1 ≠ ::1' },
    ]);
  });

  it('with an SNI: the sni routes first, then the rest in id order', () => {
    const e = explainMatch(rules, conn({ remoteAddr: '10.0.0.7', serverAddr: '192.0.2.1', serverPort: 9100, sni: 'b.test.com' }));
    assert.equal(e.winner?.id, '8');
    assert.deepEqual(e.skipped.slice(0, 2), [
      { id: '5', field: 'sni', reason: 'sni b.test.com ≠ *.a.test.com' },
      { id: '6', field: 'sni', reason: 'sni b.test.com ∉ [x.org, y.org]' },
    ]);
    assert.deepEqual(e.skipped.slice(2).map((s) => s.id), ['1', '2', '3', '4', '7']);
  });

  it('an sni route whose name matches wins before earlier routes without sni', () => {
    const e = explainMatch(rules, conn({ sni: 'x.a.test.com', serverPort: 9101 }));
    assert.deepEqual([e.winner?.id, e.skipped], ['5', []]);
  });

  it('IPv4-mapped clients are IPv4, and IPv4 rules never take IPv6 clients', () => {
    const e = explainMatch(namedRules([['1', { remote_addr: '10.0.0.0/8' }], ['2', {}]]), conn({ remoteAddr: '::ffff:10.1.2.3' }));
    assert.equal(e.winner?.id, '1');
    const v6 = explainMatch(namedRules([['1', { remote_addr: '10.0.0.0/8' }]]), conn({ remoteAddr: '2001:db8::1' }));
    assert.deepEqual(v6, { winner: null, skipped: [{ id: '1', field: 'remote_addr', reason: 'remote_addr 2001:db8::1 ∉ 10.0.0.0/8' }] });
  });

  it('matchOrder sorts sni candidates by specificity, then id', () => {
    const r = namedRules([['a', { sni: '*' }], ['b', { sni: '*.test.com' }], ['c', { sni: '*.b.test.com' }], ['d', { sni: 'x.b.test.com' }], ['e', {}], ['f', { sni: '*.test.com' }]]);
    assert.deepEqual(matchOrder(r, 'x.b.test.com').map((x) => x.id), ['d', 'c', 'b', 'f', 'a', 'e']);
    assert.deepEqual(matchOrder(r, 'y.test.com').map((x) => x.id), ['b', 'f', 'a', 'c', 'd', 'e']);
  });

  it('sniPatternCovers: wildcards span labels, not the bare domain', () => {
    assert.deepEqual(
      [['*.test.com', 'a.b.test.com'], ['*.test.com', 'test.com'], ['*', 'x'], ['a.test.com', 'a.test.com'], ['*.test.com', '.test.com']].map(([p, n]) => sniPatternCovers(p!, n!)),
      [true, false, true, true, false],
    );
  });
});

describe('explainMatch agrees with matchRoute', () => {
  it('on every third probe of 15 random route sets', () => {
    const rand = prng(4242);
    const probes = probeConns().filter((_, i) => i % 3 === 0);
    for (let set = 0; set < 15; set++) {
      const defs: RouteDef[] = Array.from({ length: 2 + Math.floor(rand() * 10) }, (_, i) => [`r${i}`, randomRoute(rand)]);
      const rules = namedRules(defs);
      const index = indexOf(rules);
      for (const c of probes) {
        const e = explainMatch(rules, c);
        assert.equal(e.winner?.id, matchRoute(index, c)?.id, `${JSON.stringify(defs)} ${JSON.stringify(c)}`);
      }
    }
  });
});
