// Explain: which route a described connection gets from the live snapshot, why the routes before it did not take
// it, the node the balancer would pick next, the certificate its SNI selects and what the route's filters say.
// Read-only: nothing here moves a balancer or counts a connection. Served by the Admin API
// (GET /apisix/admin/stream_routes/explain) and `weir explain`.

import type { JsonObject } from '../lib/json';
import { formatHostPort, parseIp } from '../lib/ip';
import { peekNode } from '../proxy/connect/pick';
import { type HealthView, NO_HEALTH } from '../health/types';
import type { ExplainedConn, StreamFilter } from '../proxy/filter/types';
import { explainMatch, type MatchExplanation } from '../proxy/match/explain';
import { normalizeSni } from '../proxy/match/sni';
import { compileTrust } from '../proxy/match/trust';
import { findCertificate } from '../snapshot/ssl';
import type { CompiledRoute, CompiledSsl, CompiledUpstream, ConnInfo, Snapshot } from '../snapshot/types';
import { describeListener, findListener, type ListenerView } from './listeners';
import { snapshotRules } from './rules';

/** The connection to explain, as given (query string or command line). */
export interface ExplainInput {
  remote_addr?: string | null;
  remote_port?: string | null;
  server_addr?: string | null;
  server_port?: string | null;
  sni?: string | null;
  protocol?: string | null;
  /**
   * The proxy in front ("ip" or "ip:port") that sent a PROXY header declaring `remote_addr`/`remote_port` as the
   * client: the connection's own peer. As in the access log, the client is the declared source and
   * `proxy_peer` the hop.
   */
  proxy_peer?: string | null;
}

/** The query parameters (and CLI flags, with dashes) explain reads. */
export const EXPLAIN_PARAMS = ['remote_addr', 'remote_port', 'server_addr', 'server_port', 'sni', 'protocol', 'proxy_peer'] as const;

export interface ExplainOptions {
  listeners: readonly ListenerView[];
  /**
   * Scoped admin keys: routes outside the key's scope are never named. The replay still runs over every route
   * (it must stay exact); when an out-of-scope route would win, or none does, the answer is the same:
   * `route: null, outcome: "no_route_in_scope"`. An SSL object out of scope is shown as null.
   */
  visible?: (res: 'stream_routes' | 'ssls', id: string) => boolean;
  /** The running health checkers (the next node skips unhealthy ones, as a pick does); default: none (offline). */
  health?: HealthView;
  /** nginx_config.stream.real_ip_from: the peers whose PROXY header a proxy_protocol listener believes; absent: all. */
  realIpFrom?: readonly string[];
}

/** "10.0.0.5", "10.0.0.5:4000", "::1", "[::1]:4000" -> address (IPv4-mapped unwrapped) and port (0: not given). */
function parsePeer(text: string): { addr: string; port: number } | null {
  const bare = parseIp(text);
  if (bare !== null) return { addr: bare.family === 4 ? bare.bytes.join('.') : text, port: 0 };
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const ip = host === undefined ? null : parseIp(host);
  const port = Number(m?.[3]);
  if (ip === null || !(port >= 1 && port <= 65535)) return null;
  return { addr: ip.family === 4 ? ip.bytes.join('.') : host!, port };
}

/** Turn the input into the ConnInfo the matcher would see, or an error message (the caller answers 400). */
export function parseExplainInput(input: ExplainInput, listeners: readonly ListenerView[]): ConnInfo | string {
  const protocol = input.protocol ?? 'tcp';
  if (protocol !== 'tcp' && protocol !== 'udp') return `invalid protocol: ${protocol} (tcp or udp)`;
  if (!input.remote_addr) return 'missing remote_addr (the client address to explain)';
  const remote = parseIp(input.remote_addr);
  if (remote === null) return `invalid remote_addr: ${input.remote_addr}`;
  if (!input.server_port) return 'missing server_port (the listener port the client connects to)';
  const serverPort = Number(input.server_port);
  if (!Number.isInteger(serverPort) || serverPort < 1 || serverPort > 65535) return `invalid server_port: ${input.server_port}`;
  const remotePort = input.remote_port ? Number(input.remote_port) : 0;
  if (!Number.isInteger(remotePort) || remotePort < 0 || remotePort > 65535) return `invalid remote_port: ${input.remote_port}`;
  let serverAddr = input.server_addr ?? null;
  if (serverAddr !== null && parseIp(serverAddr) === null) return `invalid server_addr: ${serverAddr}`;
  if (serverAddr === null) {
    // the address of the listener on that port when it is bound to one; a wildcard bind leaves loopback
    const l = listeners.find((x) => x.protocol === protocol && x.port === serverPort && x.host !== '0.0.0.0' && x.host !== '::');
    serverAddr = l?.host ?? '127.0.0.1';
  }
  const sni = input.sni ? normalizeSni(input.sni) : null;
  if (sni !== null && protocol === 'udp') return 'sni applies to tcp only (UDP carries no TLS ClientHello)';
  // addresses as the runtime reports them: an IPv4-mapped peer ("::ffff:10.0.0.7", "::ffff:a00:7") is IPv4
  const unmapped = (text: string) => {
    const ip = parseIp(text)!;
    return ip.family === 4 ? ip.bytes.join('.') : text;
  };
  const info: ConnInfo = { protocol, remoteAddr: unmapped(input.remote_addr), remotePort, serverAddr: unmapped(serverAddr), serverPort, sni };
  if (!input.proxy_peer) return info;
  const peer = parsePeer(input.proxy_peer);
  if (peer === null) return `invalid proxy_peer: ${input.proxy_peer} (the PROXY header's sender: an IP address, or ip:port)`;
  return { ...info, proxyPeer: peer.port === 0 ? peer.addr : formatHostPort(peer.addr, peer.port) };
}

/**
 * The PROXY protocol part of explain: where the connection's client comes from on its listener, as the prelude
 * decides it (src/proxy/prelude/proxy-accept.ts, and per datagram in the UDP flow). A header sent to a listener
 * that reads none is data: the peer is the client. A peer outside real_ip_from is refused before any route.
 */
function resolveProxySource(info: ConnInfo, listener: ListenerView | null, realIpFrom: readonly string[] | undefined, notes: string[]): { info: ConnInfo; untrusted: boolean } {
  const peerText = info.proxyPeer ?? null;
  if (listener === null) return { info, untrusted: false };
  if (peerText === null) {
    if (listener.proxyProtocol === true) {
      notes.push(`${describeListener(listener)} reads a PROXY header: remote_addr is taken as the client it declares; give proxy_peer (the proxy's address) to check it against nginx_config.stream.real_ip_from`);
    }
    return { info, untrusted: false };
  }
  const peer = parsePeer(peerText)!;
  if (listener.proxyProtocol !== true) {
    notes.push(`${describeListener(listener)} reads no PROXY header: the client is the proxy_peer ${peerText}, and its header would reach the upstream as data`);
    return { info: { ...info, remoteAddr: peer.addr, remotePort: peer.port, proxyPeer: null }, untrusted: false };
  }
  const trust = compileTrust(realIpFrom);
  if (trust !== null && !trust(peer.addr)) {
    notes.push(`peer ${peer.addr} is not in nginx_config.stream.real_ip_from: its PROXY header is refused before any route (${info.protocol === 'tcp' ? 'the connection is closed' : 'the datagram is dropped'})`);
    return { info, untrusted: true };
  }
  return { info, untrusted: false };
}

/** The answer's `listener`: where it is configured, its TLS mode and the PROXY protocol flags it has. */
function describeFlags(l: ListenerView): JsonObject {
  return {
    addr: describeListener(l),
    tls: l.tls,
    ...(l.proxyProtocol === true ? { proxy_protocol: true } : {}),
    ...(l.proxyProtocolToUpstream === true ? { proxy_protocol_to_upstream: true } : {}),
  };
}

/** The certificate pattern that selected `ssl` for `sni` (exact, one-label wildcard, or "*"). */
function selectingPattern(ssl: CompiledSsl, sni: string): string {
  if (ssl.snis.includes(sni)) return sni;
  const dot = sni.indexOf('.', 1);
  const wild = dot > 0 ? `*${sni.slice(dot)}` : null;
  return wild !== null && ssl.snis.includes(wild) ? wild : '*';
}

function upstreamOf(route: CompiledRoute): JsonObject {
  const up = route.upstream;
  if (up === null) return {};
  const prefix = '/apisix/upstreams/';
  if (up.key.startsWith(prefix)) return { upstream_id: up.key.slice(prefix.length) };
  return { upstream: { key: up.key, scheme: up.scheme, nodes: up.nodes.map((n) => ({ address: n.address, weight: n.weight, priority: n.priority })) } };
}

/**
 * Every filter of the chain once, in run order, with what it would decide, and the upstream the last filter
 * choosing one (traffic-split) would connect to instead of the route's. Variables are unset: no filter ran.
 */
function explainFilters(route: CompiledRoute, info: ConnInfo): { plugins: JsonObject[]; upstream: CompiledUpstream | null } {
  const seen = new Set<StreamFilter>();
  const conn: ExplainedConn = { info, route, getVar: () => undefined };
  const plugins: JsonObject[] = [];
  let upstream: CompiledUpstream | null = null;
  for (const f of [...route.filters.access, ...route.filters.log]) {
    if (seen.has(f)) continue;
    seen.add(f);
    if (f.access === undefined) {
      plugins.push({ name: f.name, admits: true, reason: 'log phase only' });
    } else if (f.explain === undefined) {
      plugins.push({ name: f.name, admits: 'unknown', reason: 'this filter cannot tell without running' });
    } else {
      try {
        const e = f.explain(conn);
        plugins.push({ name: f.name, admits: e.admits, reason: e.reason, ...(e.facts === undefined ? {} : { facts: { ...e.facts } }) });
        if (e.upstream !== undefined) upstream = e.upstream;
      } catch (err) {
        plugins.push({ name: f.name, admits: false, reason: `explain failed: ${(err as Error).message}` });
      }
    }
  }
  return { plugins, upstream };
}

/**
 * Explain one connection against a snapshot. Pure apart from reading health state; runs per request.
 * `outcome` says what weir would do: proxy it, or end it with the access log's reason.
 */
export function explainConnection(snap: Snapshot, given: ConnInfo, opts: ExplainOptions): JsonObject {
  const visible = opts.visible ?? (() => true);
  const listener = findListener(opts.listeners, given.protocol, given.serverAddr, given.serverPort);
  const notes: string[] = [];
  const { info, untrusted } = resolveProxySource(given, listener, opts.realIpFrom, notes);
  const { winner, skipped }: MatchExplanation = untrusted ? { winner: null, skipped: [] } : explainMatch(snapshotRules(snap), info);
  const compiled = winner === null ? undefined : snap.routes.find((r) => r.id === winner.id);
  const shown = compiled !== undefined && visible('stream_routes', compiled.id) ? compiled : undefined;

  let ssl: JsonObject | null = null;
  let certificate: CompiledSsl | null = null;
  if (info.sni !== null && !untrusted) {
    certificate = findCertificate(snap.certificates, info.sni);
    if (certificate !== null && visible('ssls', certificate.id)) ssl = { id: certificate.id, sni: selectingPattern(certificate, info.sni) };
  }

  let outcome: string;
  if (listener === null) {
    outcome = 'no_listener';
    notes.push(`no ${info.protocol} listener on ${info.serverAddr}:${info.serverPort}: the connection is refused before any route`);
  } else if (untrusted) {
    outcome = 'proxy_protocol_untrusted';
  } else if (listener.tls === 'terminate' && (info.sni === null || certificate === null)) {
    outcome = 'tls_handshake_failed';
    notes.push(info.sni === null ? 'TLS listener: a client without SNI fails the handshake (unless apisix.ssl.fallback_sni is set)' : `no SSL object covers sni ${info.sni}`);
  } else if (compiled === undefined) {
    outcome = 'no_route';
  } else if (compiled.upstream === null && compiled.filters.setsUpstream !== true) {
    outcome = 'no_upstream';
  } else {
    outcome = 'proxied';
  }
  if (listener !== null && listener.tls === 'passthrough' && info.sni === null) notes.push('TLS passthrough listener: the SNI is read from the ClientHello; give sni to explain one');
  if (opts.visible !== undefined && shown === undefined && (outcome === 'no_route' || outcome === 'no_upstream' || outcome === 'proxied')) {
    outcome = 'no_route_in_scope';
  }

  let route: JsonObject | null = null;
  let plugins: JsonObject[] = [];
  if (shown !== undefined) {
    const filters = explainFilters(shown, info);
    plugins = filters.plugins;
    // a filter's choice (traffic-split) replaces the route's upstream for this connection
    const target = filters.upstream ?? shown.upstream;
    const next = target === null ? undefined : peekNode(target, info, opts.health ?? NO_HEALTH);
    route = { id: shown.id, ...upstreamOf(shown), next_node: next?.address ?? null };
    if (shown.problem !== null) route.problem = shown.problem;
    if (plugins.some((p) => p.admits === false) && outcome === 'proxied') outcome = 'rejected';
    else if (target === null && outcome === 'proxied') outcome = 'no_upstream';
  }
  return {
    connection: {
      protocol: info.protocol,
      remote_addr: info.remoteAddr,
      remote_port: info.remotePort,
      server_addr: info.serverAddr,
      server_port: info.serverPort,
      sni: info.sni,
      ...(info.proxyPeer ? { proxy_peer: info.proxyPeer } : {}),
    },
    listener: listener === null ? null : describeFlags(listener),
    route,
    skipped: skipped.filter((s) => visible('stream_routes', s.id)),
    ssl,
    plugins,
    outcome,
    ...(notes.length > 0 ? { notes } : {}),
  };
}
