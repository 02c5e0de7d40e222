// Stream route matching: compile routes into an index once per snapshot, pick one route per connection.
// Precedence is the order of the rules given to compileRouteIndex (id byte order); first passing route wins.

import type { JsonObject } from '../../lib/json';
import type { CompiledRoute, ConnInfo, Snapshot } from '../../snapshot/types';
import { type CompiledCidr, cidrContains, compileCidr, maskV4, parseIpv4, parseIpv6, v6Key } from './cidr';
import { type SniTable, addSni, createSniTable, findSni, normalizeSni } from './sni';

/** A route's match conditions, compiled. Absent conditions match anything. */
export interface RouteRule {
  route: CompiledRoute;
  remote: CompiledCidr | null;
  server: CompiledCidr | null;
  /** 0 = any port. */
  port: number;
  /** Normalised sni pattern, or null. */
  sni: string | null;
  /** All normalised patterns of `snis` (apache/apisix#13911); absent or null when the route has none. */
  snis?: readonly string[] | null;
}

export interface Entry extends RouteRule {
  /** Position in precedence order: lower wins. Not always an integer (src/proxy/match/index-update.ts). */
  order: number;
}

/** Entries of one remote-address bucket, split by server_port (each list in precedence order). */
export interface PortBucket {
  byPort: Map<number, Entry[]>;
  any: Entry[];
}

export interface RouteIndex {
  /** Routes without remote_addr (and without sni). */
  noRemote: PortBucket;
  /** One map per IPv4 prefix length in use, keyed by the masked address. */
  v4: { prefix: number; map: Map<number, PortBucket> }[];
  v6: { prefix: number; map: Map<string, PortBucket> }[];
  /** Routes with sni: only tried for connections that carry an SNI. */
  sni: SniTable<Entry>;
  /** Every entry in precedence order; matching never reads it, an update (index-update.ts) does. */
  entries: readonly Entry[];
}

/**
 * Read the match fields of an (already validated) stream route value. Returns an error string naming
 * the field when a hand-edited row slipped through, so the snapshot build can skip it.
 */
export function compileRouteRule(value: JsonObject): Omit<RouteRule, 'route'> | string {
  let remote: CompiledCidr | null = null;
  let server: CompiledCidr | null = null;
  let port = 0;
  let sni: string | null = null;
  if (value.remote_addr !== undefined) {
    remote = typeof value.remote_addr === 'string' ? compileCidr(value.remote_addr) : null;
    if (remote === null) return `invalid remote_addr: ${String(value.remote_addr)}`;
  }
  if (value.server_addr !== undefined) {
    server = typeof value.server_addr === 'string' ? compileCidr(value.server_addr) : null;
    if (server === null) return `invalid server_addr: ${String(value.server_addr)}`;
  }
  if (value.server_port !== undefined) {
    const p = value.server_port;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) return `invalid server_port: ${String(p)}`;
    port = p;
  }
  if (value.sni !== undefined) {
    if (typeof value.sni !== 'string' || value.sni === '') return `invalid sni: ${String(value.sni)}`;
    sni = normalizeSni(value.sni);
  }
  if (Array.isArray(value.snis) && value.snis.length > 0) {
    const snis: string[] = [];
    for (const p of value.snis) {
      if (typeof p !== 'string' || p === '') return `invalid snis: ${String(p)}`;
      snis.push(normalizeSni(p));
    }
    return { remote, server, port, sni: snis[0]!, snis };
  }
  return { remote, server, port, sni };
}

export function newBucket(): PortBucket {
  return { byPort: new Map(), any: [] };
}

function addToBucket(bucket: PortBucket, e: Entry): void {
  if (e.port === 0) {
    bucket.any.push(e);
    return;
  }
  const list = bucket.byPort.get(e.port);
  if (list) list.push(e);
  else bucket.byPort.set(e.port, [e]);
}

function levelFor<K>(levels: { prefix: number; map: Map<K, PortBucket> }[], prefix: number): Map<K, PortBucket> {
  for (const level of levels) if (level.prefix === prefix) return level.map;
  const map = new Map<K, PortBucket>();
  levels.push({ prefix, map });
  return map;
}

/** Build the index. `rules` must be in precedence order. Runs once per snapshot build. */
export function compileRouteIndex(rules: readonly RouteRule[]): RouteIndex {
  const entries: Entry[] = [];
  const index: RouteIndex = { noRemote: newBucket(), v4: [], v6: [], sni: createSniTable<Entry>(true), entries };
  rules.forEach((rule, order) => {
    const e: Entry = { ...rule, order };
    entries.push(e);
    if (e.snis) {
      for (const pattern of new Set(e.snis)) addSni(index.sni, pattern, e);
      return;
    }
    if (e.sni !== null) return addSni(index.sni, e.sni, e);
    if (e.remote === null) return addToBucket(index.noRemote, e);
    let bucket: PortBucket | undefined;
    if (e.remote.family === 4) {
      const map = levelFor(index.v4, e.remote.prefix);
      bucket = map.get(e.remote.v4) ?? newBucket();
      map.set(e.remote.v4, bucket);
    } else {
      const map = levelFor(index.v6, e.remote.prefix);
      bucket = map.get(e.remote.v6key) ?? newBucket();
      map.set(e.remote.v6key, bucket);
    }
    addToBucket(bucket, e);
  });
  return index;
}

// Per-connection scratch state. selectRoute is synchronous, so module-level slots are safe and spare
// the closures / objects a context argument would cost on every connection.
let curPort = 0;
let curV4 = -1;
let curV6: Uint8Array | null = null;
let srvText = '';
let srvParsed = false;
let srvV4 = -1;
let srvV6: Uint8Array | null = null;

function serverMatches(rule: CompiledCidr): boolean {
  if (!srvParsed) {
    srvParsed = true;
    srvV4 = parseIpv4(srvText);
    srvV6 = srvV4 < 0 ? parseIpv6(srvText) : null;
  }
  return cidrContains(rule, srvV4, srvV6);
}

/** First entry of `list` (in precedence order) passing server_addr and preceding `bestOrder`. */
function scanList(list: Entry[] | undefined, best: Entry | undefined): Entry | undefined {
  if (list === undefined) return best;
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    if (best !== undefined && e.order >= best.order) return best;
    if (e.server === null || serverMatches(e.server)) return e;
  }
  return best;
}

function scanBucket(bucket: PortBucket, best: Entry | undefined): Entry | undefined {
  best = scanList(bucket.byPort.get(curPort), best);
  return scanList(bucket.any, best);
}

/** Full filter check, for sni candidates (they are not indexed by address or port). */
function passesAll(e: Entry, _ctx: null): boolean {
  if (e.port !== 0 && e.port !== curPort) return false;
  if (e.remote !== null && !cidrContains(e.remote, curV4, curV6)) return false;
  return e.server === null || serverMatches(e.server);
}

/** Pick the route for a connection from a compiled index. Pure: no allocation, no I/O. */
export function matchRoute(index: RouteIndex, conn: ConnInfo): CompiledRoute | undefined {
  curPort = conn.serverPort;
  srvText = conn.serverAddr;
  srvParsed = false;
  let remote = conn.remoteAddr;
  curV4 = parseIpv4(remote);
  curV6 = null;
  if (curV4 < 0) {
    // The runtime unwraps IPv4-mapped peers already; stay correct if some caller did not.
    if (remote.startsWith('::ffff:') && remote.includes('.')) {
      remote = remote.slice(7);
      curV4 = parseIpv4(remote);
    }
    if (curV4 < 0) curV6 = parseIpv6(remote);
  }
  if (conn.sni !== null && index.sni.size > 0) {
    const hit = findSni(index.sni, conn.sni, passesAll, null);
    if (hit !== undefined) return hit.route;
  }
  let best = scanBucket(index.noRemote, undefined);
  if (curV4 >= 0) {
    for (let i = 0; i < index.v4.length; i++) {
      const level = index.v4[i]!;
      const bucket = level.map.get(maskV4(curV4, level.prefix));
      if (bucket !== undefined) best = scanBucket(bucket, best);
    }
  } else if (curV6 !== null) {
    for (let i = 0; i < index.v6.length; i++) {
      const level = index.v6[i]!;
      const bucket = level.map.get(v6Key(curV6, level.prefix));
      if (bucket !== undefined) best = scanBucket(bucket, best);
    }
  }
  return best?.route;
}

/** Called once per accepted connection (or UDP session); must not allocate much. */
export function selectRoute(snap: Snapshot, conn: ConnInfo): CompiledRoute | undefined {
  return matchRoute(snap.routeIndex, conn);
}
