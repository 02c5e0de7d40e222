// Route rule builders shared by the match-analysis tests (shadow, explain, route-diff).

import { compileRouteIndex, compileRouteRule, type RouteIndex } from '../../../src/proxy/match/route';
import { NO_FILTERS } from '../../../src/proxy/filter/types';
import type { NamedRule } from '../../../src/proxy/match/space';
import type { ConnInfo } from '../../../src/snapshot/types';

export type RouteDef = [id: string, value: Record<string, unknown>];

/** Compiled rules in precedence (id byte) order. */
export function namedRules(defs: readonly RouteDef[]): NamedRule[] {
  return [...defs]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([id, value]) => {
      const rule = compileRouteRule(value);
      if (typeof rule === 'string') throw new Error(rule);
      return { ...rule, id };
    });
}

/** The real matcher's index over the same rules. */
export function indexOf(rules: readonly NamedRule[]): RouteIndex {
  return compileRouteIndex(
    rules.map((r) => ({ ...r, route: { id: r.id, key: `/apisix/stream_routes/${r.id}`, upstream: null, problem: null, filters: NO_FILTERS } })),
  );
}

export function conn(over: Partial<ConnInfo> = {}): ConnInfo {
  return { protocol: 'tcp', remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 9100, sni: null, ...over };
}

export { prng } from '../../helpers/random';

export function pickOne<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}

/**
 * A random route value over small pools, so that overlaps and shadowing are frequent: ports 9100-9102, remote
 * CIDRs inside 10.0.0.0/28 and 2001:db8::/126 (plus /8, /32 and /0 around them), server CIDRs inside
 * 127.0.0.0/30 and ::/127, a handful of exact and wildcard SNIs.
 */
export function randomRoute(rand: () => number): Record<string, unknown> {
  const v: Record<string, unknown> = {};
  if (rand() < 0.6) v.server_port = pickOne(rand, [9100, 9101, 9102]);
  if (rand() < 0.55) v.remote_addr = randomCidr(rand, true);
  if (rand() < 0.25) v.server_addr = randomCidr(rand, false);
  const r = rand();
  if (r < 0.25) v.sni = pickOne(rand, SNIS);
  else if (r < 0.35) v.snis = [pickOne(rand, SNIS), pickOne(rand, SNIS)];
  return v;
}

const SNIS = ['a.test.com', 'b.test.com', 'x.a.test.com', 'test.com', '*.test.com', '*.a.test.com', '*.com', '*'];

function randomCidr(rand: () => number, remote: boolean): string {
  const v6 = rand() < 0.3;
  const r = rand();
  if (r < 0.1) return v6 ? '::/0' : '0.0.0.0/0';
  if (r < 0.2) return v6 ? (remote ? '2001:db8::/32' : '::/64') : remote ? '10.0.0.0/8' : '127.0.0.0/8';
  if (remote) {
    const prefix = pickOne(rand, v6 ? [126, 127, 128] : [28, 29, 30, 31, 32]);
    const size = 2 ** ((v6 ? 128 : 32) - prefix);
    const base = Math.floor(rand() * ((v6 ? 4 : 16) / size)) * size;
    return v6 ? `2001:db8::${base.toString(16)}/${prefix}` : `10.0.0.${base}/${prefix}`;
  }
  const prefix = pickOne(rand, v6 ? [127, 128] : [30, 31, 32]);
  const size = 2 ** ((v6 ? 128 : 32) - prefix);
  const base = Math.floor(rand() * ((v6 ? 2 : 4) / size)) * size;
  return v6 ? `::${base.toString(16)}/${prefix}` : `127.0.0.${base}/${prefix}`;
}

/** Every connection class the random pools can tell apart, by enumeration (independent of space.ts). */
export function probeConns(): ConnInfo[] {
  const remotes = [
    ...Array.from({ length: 16 }, (_, i) => `10.0.0.${i}`), '10.0.0.16', '192.0.2.1',
    '2001:db8::', '2001:db8::1', '2001:db8::2', '2001:db8::3', '2001:db8::10', '2001:db9::1',
  ];
  const servers = ['127.0.0.0', '127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '192.0.2.9', '::', '::1', '::10', '2001:db9::2'];
  const snis = [null, 'a.test.com', 'b.test.com', 'x.a.test.com', 'test.com', 'zz.test.com', 'zz.a.test.com', 'zz.x.a.test.com', 'zz.com', 'zz', 'zz.org'];
  const out: ConnInfo[] = [];
  for (const serverPort of [9100, 9101, 9102, 9103])
    for (const remoteAddr of remotes)
      for (const serverAddr of servers) for (const sni of snis) out.push(conn({ remoteAddr, serverAddr, serverPort, sni }));
  return out;
}
