// Winner changes between two rule sets: tables, and a randomized comparison with probing the real matcher.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchRoute } from '../../../src/proxy/match/route';
import { diffWinners } from '../../../src/proxy/match/route-diff';
import { conn, indexOf, namedRules, probeConns, prng, randomRoute, type RouteDef } from './rules';

function pairs(before: RouteDef[], after: RouteDef[], changed: string[]): string[] {
  return diffWinners(namedRules(before), namedRules(after), new Set(changed))
    .map((c) => `${c.from ?? '-'}>${c.to ?? '-'}`)
    .sort();
}

describe('diffWinners', () => {
  it('a new catch-all on a port takes only what nobody matched', () => {
    const before: RouteDef[] = [['1', { server_port: 9100, remote_addr: '10.0.0.0/8' }]];
    assert.deepEqual(pairs(before, [...before, ['2', { server_port: 9100 }]], ['2']), ['->2']);
  });
  it('a new earlier route takes traffic from a later one', () => {
    const before: RouteDef[] = [['5', { server_port: 9100 }]];
    assert.deepEqual(pairs(before, [...before, ['1', { server_port: 9100, remote_addr: '10.0.0.0/8' }]], ['1']), ['5>1']);
  });
  it('deleting a route hands its traffic on (or refuses it)', () => {
    const both: RouteDef[] = [['1', { server_port: 9100, remote_addr: '10.0.0.0/8' }], ['2', { server_port: 9100 }]];
    assert.deepEqual(pairs(both, [both[1]!], ['1']), ['1>2']);
    assert.deepEqual(pairs(both, [both[0]!], ['2']), ['2>-']);
  });
  it('narrowing a route gives the rest to the next one', () => {
    const after: RouteDef[] = [['1', { server_port: 9100, remote_addr: '10.1.0.0/16' }], ['2', { remote_addr: '10.0.0.0/8' }]];
    assert.deepEqual(pairs([['1', { server_port: 9100 }], after[1]!], after, ['1']), ['1>-', '1>2']);
  });
  it('changing only the upstream moves no traffic', () => {
    const r: RouteDef[] = [['1', { server_port: 9100 }]];
    assert.deepEqual(pairs(r, r, ['1']), []);
  });
  it('an sni route takes TLS traffic for its name from a route without sni, and what nobody took', () => {
    const before: RouteDef[] = [['9', { server_port: 9100 }]];
    const changes = diffWinners(namedRules(before), namedRules([...before, ['a', { sni: '*.test.com' }]]), new Set(['a']));
    assert.deepEqual(changes, [
      { from: '9', to: 'a', sample: { remoteAddr: '192.0.2.1', serverAddr: '127.0.0.1', serverPort: 9100, sni: 'x.test.com' } },
      { from: null, to: 'a', sample: { remoteAddr: '192.0.2.1', serverAddr: '127.0.0.1', serverPort: 1, sni: 'x.test.com' } },
    ]);
  });
});

describe('diffWinners against brute force', () => {
  it('finds exactly the (from, to) pairs probing finds, over 25 random one-route writes', () => {
    const rand = prng(99);
    const probes = probeConns();
    for (let n = 0; n < 25; n++) {
      const size = 2 + Math.floor(rand() * 8);
      const before: RouteDef[] = Array.from({ length: size }, (_, i) => [`r${i}`, randomRoute(rand)]);
      const target = `r${Math.floor(rand() * (size + 1))}`;
      const kind = rand();
      const after: RouteDef[] = before.filter(([id]) => id !== target);
      if (kind > 0.3) after.push([target, randomRoute(rand)]); // else: a delete (or nothing, for a new id)
      const rb = namedRules(before);
      const ra = namedRules(after);
      const ib = indexOf(rb);
      const ia = indexOf(ra);
      const brute = new Set<string>();
      for (const c of probes) {
        const from = matchRoute(ib, c)?.id ?? '-';
        const to = matchRoute(ia, c)?.id ?? '-';
        if (from !== to) brute.add(`${from}>${to}`);
      }
      const found = diffWinners(rb, ra, new Set([target]));
      const context = JSON.stringify({ before, after });
      assert.deepEqual(found.map((c) => `${c.from ?? '-'}>${c.to ?? '-'}`).sort(), [...brute].sort(), context);
      for (const c of found) {
        assert.equal(matchRoute(ib, conn(c.sample))?.id ?? null, c.from, `${context} sample before`);
        assert.equal(matchRoute(ia, conn(c.sample))?.id ?? null, c.to, `${context} sample after`);
      }
    }
  });
});
