// apisix.stream_proxy.tcp / .udp: listen items ("9100", "ip:port", "[::1]:port", ranges, {addr, tls}) -> specs.
// Runs once at start; ranges are expanded here so the listener stage sees one address per socket.

import ipaddr from 'ipaddr.js';
import { parseIp } from '../lib/ip';
import { readMaxConnections } from './limits';
import { ConfigError, type TcpListenSpec, type UdpListenSpec } from './types';
import { checkKeys, describeValue, isMap, readBool, readList, type ReadCtx, type YamlMap } from './read';

/** Upper bound on listeners after range expansion: each is a socket, and "1-65535" is a typo, not a plan. */
export const MAX_LISTENERS = 4096;

const ANY_IPV4 = '0.0.0.0';
const FORMS = 'a port like 9100, "ip:port", "[ipv6]:port" or a range like "2000-2100"';

/** One parsed address item before expansion: host is canonical, ports are start..end inclusive. */
export interface AddrRange {
  host: string;
  start: number;
  end: number;
}

/** Finds repeats of the same host:port within one protocol; the count is shared by TCP and UDP. */
class ListenerSet {
  private readonly seen = new Map<string, string>();

  constructor(private readonly budget: { count: number }) {}

  /** Checked before expanding, so "1-65535" fails without building 65535 entries. */
  add(range: AddrRange, origin: string): void {
    this.budget.count += range.end - range.start + 1;
    if (this.budget.count > MAX_LISTENERS) {
      const problem = `more than ${MAX_LISTENERS} listeners (TCP and UDP together) after expanding port ranges`;
      throw new ConfigError(origin, problem);
    }
    for (let port = range.start; port <= range.end; port++) {
      const key = `${range.host}|${port}`;
      const first = this.seen.get(key);
      if (first !== undefined) {
        const shown = range.host.includes(':') ? `[${range.host}]:${port}` : `${range.host}:${port}`;
        throw new ConfigError(origin, `${shown} is already listed by ${first}`);
      }
      this.seen.set(key, origin);
    }
  }
}

/** Read both lists of `apisix.stream_proxy` (absent or empty lists mean no listeners). */
export function readStreamListeners(
  stream: { tcp?: unknown; udp?: unknown },
  ctx: ReadCtx,
): { tcp: TcpListenSpec[]; udp: UdpListenSpec[] } {
  const tcp: TcpListenSpec[] = [];
  const udp: UdpListenSpec[] = [];
  const tcpItems = readList(stream.tcp, 'apisix.stream_proxy.tcp', 'listen addresses') ?? [];
  const udpItems = readList(stream.udp, 'apisix.stream_proxy.udp', 'listen addresses') ?? [];
  const budget = { count: 0 };
  const tcpSet = new ListenerSet(budget);
  tcpItems.forEach((item, i) => {
    const origin = `apisix.stream_proxy.tcp[${i}]`;
    const { range, tls, tlsPassthrough, proxy } = readTcpItem(item, origin, ctx);
    tcpSet.add(range, origin);
    // each port of a range is its own listener with its own count
    const maxConnections = isMap(item) ? readMaxConnections(item.max_connections, `${origin}.max_connections`) : undefined;
    const capped = maxConnections === undefined ? {} : { maxConnections };
    for (let port = range.start; port <= range.end; port++) {
      tcp.push({ host: range.host, port, tls, ...(tlsPassthrough ? { tlsPassthrough } : {}), ...proxy, origin, ...capped });
    }
  });
  const udpSet = new ListenerSet(budget);
  udpItems.forEach((item, i) => {
    const origin = `apisix.stream_proxy.udp[${i}]`;
    const { range, proxy } = readUdpItem(item, origin, ctx);
    udpSet.add(range, origin);
    // max_connections caps a UDP listener's sessions; each port of a range has its own count, as on TCP
    const maxSessions = isMap(item) ? readMaxConnections(item.max_connections, `${origin}.max_connections`) : undefined;
    const capped = maxSessions === undefined ? {} : { maxSessions };
    for (let port = range.start; port <= range.end; port++) udp.push({ host: range.host, port, ...proxy, origin, ...capped });
  });
  return { tcp, udp };
}

/** The PROXY protocol flags of a listener item, present only when on (so specs without them stay as they were). */
type ProxyFlags = { proxyProtocol?: true; proxyProtocolToUpstream?: true };

function readProxyFlags(item: YamlMap, origin: string): ProxyFlags {
  const flags: ProxyFlags = {};
  if (readBool(item.proxy_protocol, `${origin}.proxy_protocol`, false)) flags.proxyProtocol = true;
  if (readBool(item.proxy_protocol_to_upstream, `${origin}.proxy_protocol_to_upstream`, false)) flags.proxyProtocolToUpstream = true;
  return flags;
}

/** A UDP item: an address, or {addr, proxy_protocol, proxy_protocol_to_upstream, max_connections} (no TLS for UDP). */
function readUdpItem(item: unknown, origin: string, ctx: ReadCtx): { range: AddrRange; proxy: ProxyFlags } {
  if (!isMap(item)) return { range: parseListenAddr(item, origin), proxy: {} };
  checkKeys(item, origin, ctx, 'apisix.stream_proxy.udp[]');
  for (const key of ['tls', 'tls_passthrough'] as const) {
    if (item[key] !== undefined) throw new ConfigError(`${origin}.${key}`, 'UDP listeners have no TLS (weir has no DTLS)');
  }
  if (item.addr === undefined || item.addr === null) throw new ConfigError(`${origin}.addr`, `missing (expected ${FORMS})`);
  return { range: parseListenAddr(item.addr, `${origin}.addr`), proxy: readProxyFlags(item, origin) };
}

function readTcpItem(item: unknown, origin: string, ctx: ReadCtx): { range: AddrRange; tls: boolean; tlsPassthrough: boolean; proxy: ProxyFlags } {
  if (!isMap(item)) return { range: parseListenAddr(item, origin), tls: false, tlsPassthrough: false, proxy: {} };
  checkKeys(item, origin, ctx, 'apisix.stream_proxy.tcp[]');
  if (item.addr === undefined || item.addr === null) {
    throw new ConfigError(`${origin}.addr`, `missing (expected ${FORMS})`);
  }
  const range = parseListenAddr(item.addr, `${origin}.addr`);
  const tls = readBool(item.tls, `${origin}.tls`, false);
  const tlsPassthrough = readBool(item.tls_passthrough, `${origin}.tls_passthrough`, false);
  return { range, tls, tlsPassthrough, proxy: readProxyFlags(item, origin) };
}

/**
 * Parse one listen address: an integer port, or a string "9100", "ip:port", "[ipv6]:port", "2000-2100",
 * "ip:2000-2100". A bare port binds every IPv4 address, as nginx's `listen 9100` does.
 */
export function parseListenAddr(item: unknown, path: string): AddrRange {
  if (typeof item === 'number') {
    if (!isPort(item)) throw new ConfigError(path, `${describeValue(item)} is not a valid port`);
    return { host: ANY_IPV4, start: item, end: item };
  }
  if (typeof item !== 'string') {
    const hint = Array.isArray(item) ? ' (quote "[::1]:port" addresses in YAML)' : '';
    throw new ConfigError(path, `expected ${FORMS}, got ${describeValue(item)}${hint}`);
  }
  const shown = describeValue(item);
  let host = ANY_IPV4;
  let portText = item;
  if (item.startsWith('[')) {
    const close = item.indexOf(']:');
    if (close < 0) throw new ConfigError(path, `${shown} is not a valid listen address (expected "[ipv6]:port")`);
    const hostText = item.slice(1, close);
    if (!hostText.includes(':')) throw new ConfigError(path, `${shown}: brackets are only for IPv6 addresses`);
    host = canonicalHost(hostText, shown, path);
    portText = item.slice(close + 2);
  } else if (item.includes(':')) {
    const colon = item.lastIndexOf(':');
    const hostText = item.slice(0, colon);
    if (hostText.includes(':')) {
      throw new ConfigError(path, `${shown}: an IPv6 address must be enclosed in brackets, e.g. "[::1]:9100"`);
    }
    host = canonicalHost(hostText, shown, path);
    portText = item.slice(colon + 1);
  } else if (!/^[\d-]+$/.test(item)) {
    throw new ConfigError(path, `${shown} is not a valid listen address (expected ${FORMS})`);
  }
  const range = /^(\d{1,5})-(\d{1,5})$/.exec(portText);
  if (range) {
    const start = Number(range[1]);
    const end = Number(range[2]);
    if (!isPort(start) || !isPort(end)) {
      throw new ConfigError(path, `${shown} is not a valid port range (each end must be 1..65535)`);
    }
    if (start > end) throw new ConfigError(path, `${shown} is not a valid port range (start is greater than end)`);
    return { host, start, end };
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
  if (!isPort(port)) throw new ConfigError(path, `${shown} is not a valid port`);
  return { host, start: port, end: port };
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/**
 * A strict IP literal in canonical text ("0:0::1" -> "::1", "::ffff:127.0.0.1" -> "127.0.0.1"), so the same
 * address is recognised however it is spelled; null if `text` is not an IP literal.
 */
export function canonicalIp(text: string): string | null {
  const ip = parseIp(text);
  if (!ip) return null;
  return ip.family === 4 ? ip.bytes.join('.') : ipaddr.fromByteArray(ip.bytes).toString();
}

function canonicalHost(text: string, shown: string, path: string): string {
  const host = canonicalIp(text);
  if (host === null) throw new ConfigError(path, `${shown}: ${JSON.stringify(text)} is not an IP address`);
  return host;
}
