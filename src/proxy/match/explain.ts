// Why a connection gets the route it gets: the matcher's decision replayed route by route, naming the first
// condition each earlier route failed. Pure; runs per explain request, never per connection.
//
// The order is the matcher's (route.ts). A connection with an SNI first meets the sni routes: those whose
// patterns match its name, in findSni's order (exact name, wildcards longest suffix first, "*"; id order within
// one pattern), then the other sni routes (they fail on sni); then the routes without sni, in id order. A
// connection without SNI meets every route in id order, and the sni routes fail on sni.

import type { ConnInfo } from '../../snapshot/types';
import { type CompiledCidr, cidrContains, parseIpv4, parseIpv6 } from './cidr';
import { formatCidr, formatSni } from './describe';
import { type NamedRule, patternsOf } from './space';

/** A route the connection met before the winner, and the first of its conditions it failed. */
export interface SkippedRoute {
  id: string;
  field: 'sni' | 'server_port' | 'remote_addr' | 'server_addr';
  /** e.g. "server_port 9101 ≠ 9100", "remote_addr 10.0.0.7 ∉ 10.0.1.0/24", "sni b.test.com ≠ *.a.test.com". */
  reason: string;
}

export interface MatchExplanation {
  /** The route the matcher picks, or null. */
  winner: NamedRule | null;
  skipped: SkippedRoute[];
}

interface Parsed {
  conn: ConnInfo;
  remote: string;
  v4: number;
  v6: Uint8Array | null;
  srvV4: number;
  srvV6: Uint8Array | null;
}

/** Does pattern (normalised) cover the name, as a route's sni does? Wildcards span labels; "*" covers all. */
export function sniPatternCovers(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1);
    return name.length > suffix.length && name.endsWith(suffix);
  }
  return pattern === name;
}

function cidrFailure(field: 'remote_addr' | 'server_addr', addr: string, rule: CompiledCidr): SkippedRoute['reason'] {
  const exact = rule.prefix === (rule.family === 4 ? 32 : 128);
  return `${field} ${addr} ${exact ? '≠' : '∉'} ${formatCidr(rule)}`;
}

/** The first failed condition of a rule (sni aside), or null when it accepts the connection. */
function firstFailure(r: NamedRule, p: Parsed): Omit<SkippedRoute, 'id'> | null {
  if (r.port !== 0 && r.port !== p.conn.serverPort) {
    return { field: 'server_port', reason: `server_port ${p.conn.serverPort} ≠ ${r.port}` };
  }
  if (r.remote !== null && !cidrContains(r.remote, p.v4, p.v6)) {
    return { field: 'remote_addr', reason: cidrFailure('remote_addr', p.remote, r.remote) };
  }
  if (r.server !== null && !cidrContains(r.server, p.srvV4, p.srvV6)) {
    return { field: 'server_addr', reason: cidrFailure('server_addr', p.conn.serverAddr, r.server) };
  }
  return null;
}

function sniFailure(r: NamedRule, sni: string | null): Omit<SkippedRoute, 'id'> {
  const wanted = formatSni(r)!;
  const op = r.snis && r.snis.length > 1 ? '∉' : '≠';
  return { field: 'sni', reason: sni === null ? `sni (none) ≠ ${wanted}` : `sni ${sni} ${op} ${wanted}` };
}

/** Parse the connection's addresses exactly as matchRoute does (an IPv4-mapped client counts as IPv4). */
function parse(conn: ConnInfo): Parsed {
  let remote = conn.remoteAddr;
  let v4 = parseIpv4(remote);
  if (v4 < 0 && remote.startsWith('::ffff:') && remote.includes('.')) {
    remote = remote.slice(7);
    v4 = parseIpv4(remote);
  }
  const v6 = v4 < 0 ? parseIpv6(remote) : null;
  const srvV4 = parseIpv4(conn.serverAddr);
  return { conn, remote, v4, v6, srvV4, srvV6: srvV4 < 0 ? parseIpv6(conn.serverAddr) : null };
}

/**
 * Replay the match of `conn` over `rules` (precedence order, as the snapshot lists them). `skipped` holds every
 * route met before the winner (all of them when none wins).
 */
export function explainMatch(rules: readonly NamedRule[], conn: ConnInfo): MatchExplanation {
  const p = parse(conn);
  const skipped: SkippedRoute[] = [];
  const order = matchOrder(rules, conn.sni);
  for (const r of order) {
    const patterns = patternsOf(r);
    if (patterns.length > 0 && (conn.sni === null || !patterns.some((pat) => sniPatternCovers(pat, conn.sni!)))) {
      skipped.push({ id: r.id, ...sniFailure(r, conn.sni) });
      continue;
    }
    const failed = firstFailure(r, p);
    if (failed === null) return { winner: r, skipped };
    skipped.push({ id: r.id, ...failed });
  }
  return { winner: null, skipped };
}

/** The order the matcher meets routes in, for this SNI (see the module comment). */
export function matchOrder(rules: readonly NamedRule[], sni: string | null): NamedRule[] {
  if (sni === null) return [...rules];
  const candidates: Array<{ r: NamedRule; level: number; at: number }> = [];
  const others: NamedRule[] = [];
  const plain: NamedRule[] = [];
  rules.forEach((r, at) => {
    const patterns = patternsOf(r);
    if (patterns.length === 0) return void plain.push(r);
    let level = Infinity;
    for (const pat of patterns) if (sniPatternCovers(pat, sni)) level = Math.min(level, specificity(pat, sni));
    if (level === Infinity) others.push(r);
    else candidates.push({ r, level, at });
  });
  candidates.sort((a, b) => a.level - b.level || a.at - b.at);
  return [...candidates.map((c) => c.r), ...others, ...plain];
}

/** findSni's level of a covering pattern: 0 exact, then wildcards by suffix length (longer first), "*" last. */
function specificity(pattern: string, name: string): number {
  if (pattern === '*') return name.length + 2;
  if (pattern.startsWith('*.')) return 1 + (name.length - (pattern.length - 1));
  return 0;
}
