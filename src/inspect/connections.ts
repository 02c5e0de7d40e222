// What is open right now: the TCP connections and UDP sessions of this process as rows for the Admin API
// (GET /v1/connections, GET /v1/udp_sessions), their filters, and ending them (DELETE). Reads the flows' own
// open sets and the pipes' counters; nothing is kept per connection for these views. Merging the workers' rows
// and paging them: src/inspect/worker-tables.ts.

import { connectionIdText } from '../proxy/session/conn-id';
import type { JsonObject } from '../lib/json';
import { formatHostPort } from '../lib/ip';
import { type CompiledCidr, cidrContains, compileCidr, parseIpv4, parseIpv6 } from '../proxy/match/cidr';
import type { TcpFlow } from '../proxy/flow/tcp-flow';
import type { UdpFlow } from '../proxy/flow/udp-flow';
import type { TcpSession } from '../proxy/session/tcp-session';
import type { UdpSession } from '../proxy/session/udp-session';

/** The flows whose open connections the views read. */
export interface LiveTables {
  tcp: TcpFlow | null;
  udp: UdpFlow | null;
}

/** Query filters, every one optional; all given ones must hold. */
export interface ConnectionFilter {
  route?: string;
  /** An upstream id ("1") or key ("/apisix/upstreams/1", "/apisix/stream_routes/2" for an inline one). */
  upstream?: string;
  /** "host:port" of the node. */
  node?: string;
  client?: CompiledCidr;
  /** A port, or "host:port": where the connection arrived. */
  listener?: { host: string | null; port: number };
}

export interface ConnectionQuery {
  filter: ConnectionFilter;
  paging: { page: number; size: number } | null;
}

const MAX_PAGE_SIZE = 1000;

/** Read the query string; an error message (answered 400) when a value is malformed. */
export function parseConnectionQuery(q: URLSearchParams): ConnectionQuery | string {
  const filter: ConnectionFilter = {};
  const route = q.get('route');
  if (route) filter.route = route;
  const upstream = q.get('upstream');
  if (upstream) filter.upstream = upstream;
  const node = q.get('node');
  if (node) filter.node = node;
  const client = q.get('client');
  if (client) {
    const c = compileCidr(client);
    if (c === null) return `invalid client: ${client} (an IP address or CIDR)`;
    filter.client = c;
  }
  const listener = q.get('listener');
  if (listener) {
    const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(listener);
    const port = m === null ? NaN : Number(m[2]);
    if (m === null || port < 1 || port > 65535) return `invalid listener: ${listener} (a port or host:port)`;
    filter.listener = { host: m[1] ?? null, port };
  }
  let paging: ConnectionQuery['paging'] = null;
  const page = q.get('page');
  const size = q.get('page_size');
  if (page !== null || size !== null) {
    const p = Number(page ?? '1');
    const n = Number(size ?? String(MAX_PAGE_SIZE));
    if (!Number.isInteger(p) || p < 1) return 'page must be an integer >= 1';
    if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) return `page_size must be between 1 and ${MAX_PAGE_SIZE}`;
    paging = { page: p, size: n };
  }
  return { filter, paging };
}

/** True when the query filters on anything (a bulk DELETE needs at least one filter). */
export function hasFilter(f: ConnectionFilter): boolean {
  return f.route !== undefined || f.upstream !== undefined || f.node !== undefined || f.client !== undefined || f.listener !== undefined;
}

/** The facts every filter reads, for TCP and UDP alike. */
interface Facts {
  route: string | null;
  upstreamKey: string | null;
  node: string | null;
  remoteAddr: string;
  serverAddr: string;
  serverPort: number;
}

function upstreamMatches(key: string | null, want: string): boolean {
  return key !== null && (key === want || key === `/apisix/upstreams/${want}`);
}

function matches(f: ConnectionFilter, x: Facts): boolean {
  if (f.route !== undefined && x.route !== f.route) return false;
  if (f.upstream !== undefined && !upstreamMatches(x.upstreamKey, f.upstream)) return false;
  if (f.node !== undefined && x.node !== f.node) return false;
  if (f.listener !== undefined && (x.serverPort !== f.listener.port || (f.listener.host !== null && x.serverAddr !== f.listener.host))) return false;
  if (f.client !== undefined) {
    const v4 = parseIpv4(x.remoteAddr);
    if (!cidrContains(f.client, v4, v4 < 0 ? parseIpv6(x.remoteAddr) : null)) return false;
  }
  return true;
}

function tcpFacts(s: TcpSession): Facts {
  return {
    route: s.matched?.id ?? null,
    upstreamKey: s.upstream?.key ?? null,
    node: s.current?.address ?? null,
    remoteAddr: s.remoteAddr,
    serverAddr: s.serverAddr,
    serverPort: s.serverPort,
  };
}

function udpFacts(s: UdpSession): Facts {
  return { route: s.route.id, upstreamKey: s.up?.key ?? null, node: s.node?.address ?? null, remoteAddr: s.info.remoteAddr, serverAddr: s.info.serverAddr, serverPort: s.info.serverPort };
}

function tcpState(flow: TcpFlow, s: TcpSession): string {
  if (flow.inPrelude(s)) return 'prelude';
  if (s.upstreamConn !== null) return 'proxying';
  return s.upstream === null ? 'filters' : 'connecting';
}

/** One TCP connection as GET /v1/connections shows it. */
function tcpRow(flow: TcpFlow, s: TcpSession, now: number): JsonObject {
  const stats = s.upstreamConn === null ? null : flow.pipeStats(s);
  const age = now - s.startedAt;
  return {
    id: connectionIdText(s.id),
    protocol: 'tcp',
    state: tcpState(flow, s),
    route: s.matched?.id ?? null,
    upstream: s.upstream?.key ?? null,
    node: s.current?.address ?? null,
    client: formatHostPort(s.remoteAddr, s.remotePort),
    server: formatHostPort(s.serverAddr, s.serverPort),
    tls: s.tls ?? null,
    sni: s.sni,
    bytes_from_client: stats?.bytesFromClient ?? 0,
    bytes_to_client: stats?.bytesToClient ?? 0,
    age_ms: age,
    idle_ms: stats === null ? age : Math.min(age, stats.idleMs),
  };
}

/** One UDP session as GET /v1/udp_sessions shows it. */
function udpRow(flow: UdpFlow, s: UdpSession, now: number): JsonObject {
  const age = now - s.startedAt;
  return {
    id: connectionIdText(s.info.id ?? 0),
    protocol: 'udp',
    route: s.route.id,
    upstream: s.up?.key ?? null,
    node: s.node?.address ?? null,
    client: formatHostPort(s.info.remoteAddr, s.info.remotePort),
    server: formatHostPort(s.info.serverAddr, s.info.serverPort),
    bytes_from_client: s.bytesFromClient,
    bytes_to_client: s.bytesToClient,
    datagrams_from_client: s.datagramsFromClient,
    datagrams_to_client: s.datagramsToClient,
    age_ms: age,
    idle_ms: Math.max(0, Math.min(age, flow.clock() - s.lastActive)),
  };
}

/** Which routes the asking key may see (scoped keys); everything when absent. */
export type RouteVisible = (routeId: string | null) => boolean;

/** The two tables: TCP connections (/v1/connections) and UDP sessions (/v1/udp_sessions). */
export type TableName = 'tcp' | 'udp';

/** A table's rows as one process has them: how many pass the filter, and the first of them, by id. */
export interface TableRows {
  total: number;
  rows: JsonObject[];
}

/**
 * The open rows of one table passing the filter (and `ids`, when given), ordered by id: their count, and the
 * first `limit` of them as rows (all when null; only those are built). Runs per admin request, in any worker;
 * the caller applies a scoped key's visibility on the rows' `route`.
 */
export function readTable(live: LiveTables, table: TableName, f: ConnectionFilter, limit: number | null, ids?: ReadonlySet<number>, now = Date.now()): TableRows {
  const wanted = (id: number) => ids === undefined || ids.has(id);
  if (table === 'tcp') {
    const flow = live.tcp;
    if (flow === null) return { total: 0, rows: [] };
    const open = flow.openSessions().filter((s) => wanted(s.id) && matches(f, tcpFacts(s))).sort((a, b) => a.id - b.id);
    return { total: open.length, rows: (limit === null ? open : open.slice(0, limit)).map((s) => tcpRow(flow, s, now)) };
  }
  const flow = live.udp;
  if (flow === null) return { total: 0, rows: [] };
  const open = flow.openSessions().filter((s) => wanted(s.info.id ?? 0) && matches(f, udpFacts(s))).sort((a, b) => (a.info.id ?? 0) - (b.info.id ?? 0));
  return { total: open.length, rows: (limit === null ? open : open.slice(0, limit)).map((s) => udpRow(flow, s, now)) };
}

/** End the open connections (or sessions) with these ids, access record end "admin_closed"; the shown ids of those ended, by id. */
export function endInTable(live: LiveTables, table: TableName, ids: ReadonlySet<number>): string[] {
  if (table === 'tcp') {
    const flow = live.tcp;
    if (flow === null) return [];
    const open = flow.openSessions().filter((s) => ids.has(s.id)).sort((a, b) => a.id - b.id);
    return open.filter((s) => flow.closeByAdmin(s)).map((s) => connectionIdText(s.id));
  }
  const flow = live.udp;
  if (flow === null) return [];
  const open = flow.openSessions().filter((s) => ids.has(s.info.id ?? 0)).sort((a, b) => (a.info.id ?? 0) - (b.info.id ?? 0));
  return open.filter((s) => flow.closeByAdmin(s)).map((s) => connectionIdText(s.info.id ?? 0));
}

/**
 * Open connections and sessions on any of these routes or upstream keys (what a dry-run write would touch), as
 * counts by route id. Only connections with a route can be on either. Runs per dry run, in any worker.
 */
export function countAffectedByRoute(live: LiveTables, routes: ReadonlySet<string>, upstreamKeys: ReadonlySet<string>): Map<string, number> {
  const counts = new Map<string, number>();
  const hit = (route: string | undefined, up: string | null): void => {
    if (route !== undefined && (routes.has(route) || (up !== null && upstreamKeys.has(up)))) counts.set(route, (counts.get(route) ?? 0) + 1);
  };
  for (const s of live.tcp?.openSessions() ?? []) hit(s.matched?.id, s.upstream?.key ?? null);
  for (const s of live.udp?.openSessions() ?? []) hit(s.route.id, s.up?.key ?? null);
  return counts;
}

/** The sum of `counts` (countAffectedByRoute's) over the routes `visible` lets the caller see. */
export function sumVisible(counts: Iterable<readonly [string, number]>, visible: RouteVisible = () => true): number {
  let n = 0;
  for (const [route, count] of counts) if (visible(route)) n += count;
  return n;
}

/** countAffectedByRoute, summed over the routes `visible` lets the caller see. */
export function countAffected(live: LiveTables, routes: ReadonlySet<string>, upstreamKeys: ReadonlySet<string>, visible: RouteVisible = () => true): number {
  return sumVisible(countAffectedByRoute(live, routes, upstreamKeys), visible);
}
