// The listeners a process should have: the config's (fixed until a reload) and the stream_listeners objects
// of the store, as listener specs; plus the read-only entries the Admin API shows for the config's. Pure.

import type { Config, TcpListenSpec, UdpListenSpec } from '../config/types';
import { formatHostPort } from '../lib/ip';
import type { JsonObject } from '../lib/json';
import { compilePolicy } from '../proxy/session/policy';
import { validateStreamListener } from '../schema/index';
import { listenerAddress } from '../schema/stream-listener';
import type { StoredObject } from '../store/types';

/** Both lists, as the TCP and UDP proxies take them. */
export interface ListenerLists {
  tcp: TcpListenSpec[];
  udp: UdpListenSpec[];
}

/** A stored listener that is left out, and why (invalid row, or an address something else already lists). */
export interface SkippedListener {
  id: string;
  /** The row text: a problem is reported once per text, and forgotten when the row changes. */
  raw: string;
  problem: string;
}

export interface DesiredListeners extends ListenerLists {
  skipped: SkippedListener[];
}

/** "stream_listeners/<id>": the origin of an object's specs, in bind errors and logs. */
export function objectOrigin(id: string): string {
  return `stream_listeners/${id}`;
}

/** The id of an object origin, or null for a config origin. */
export function objectIdOf(origin: string): string | null {
  return origin.startsWith('stream_listeners/') ? origin.slice('stream_listeners/'.length) : null;
}

/** Prefix of the ids the Admin API gives the config's listeners ("config:tcp:0"); never a valid object id. */
export const CONFIG_ID_PREFIX = 'config:';

/** The spec(s) of one stored listener value, or why it cannot be served. */
export function compileListener(id: string, value: JsonObject): { tcp: TcpListenSpec } | { udp: UdpListenSpec } | { problem: string } {
  const checked = validateStreamListener(value);
  if (!checked.ok) return { problem: checked.message };
  const { host, port } = listenerAddress(value.addr);
  const origin = objectOrigin(id);
  const onChange = compilePolicy(value.on_change);
  if (value.protocol === 'udp') {
    const udp: UdpListenSpec = { host, port, origin };
    if (value.proxy_protocol === true) udp.proxyProtocol = true;
    if (value.proxy_protocol_to_upstream === true) udp.proxyProtocolToUpstream = true;
    if (typeof value.max_connections === 'number') udp.maxSessions = value.max_connections;
    if (onChange) udp.onChange = onChange;
    return { udp };
  }
  const spec: TcpListenSpec = { host, port, tls: value.tls === true, origin };
  if (value.tls_passthrough === true) spec.tlsPassthrough = true;
  // the same flags as an apisix.stream_proxy item's: the listener binder reads them (src/proxy/listener/tcp.ts)
  if (value.proxy_protocol === true) spec.proxyProtocol = true;
  if (value.proxy_protocol_to_upstream === true) spec.proxyProtocolToUpstream = true;
  if (typeof value.max_connections === 'number') spec.maxConnections = value.max_connections;
  if (onChange) spec.onChange = onChange;
  return { tcp: spec };
}

/**
 * The config's listeners first (always), then the stored objects in id order. A row that does not validate,
 * or whose address is already listed (by the config or an earlier row, same protocol), is skipped with the
 * reason. `overlay` puts one object in place of the stored one, or adds it (the Admin API binds a write before
 * storing it); `exclude` leaves rows out (listeners that could not be bound, until their row changes).
 */
export function desiredListeners(
  config: Config,
  rows: readonly StoredObject[],
  opts: { overlay?: { id: string; value: JsonObject } | null; exclude?: (row: StoredObject) => boolean } = {},
): DesiredListeners {
  const out: DesiredListeners = { tcp: [...config.stream.tcp], udp: [...config.stream.udp], skipped: [] };
  const taken = new Map<string, string>();
  for (const s of out.tcp) taken.set(`tcp|${s.host}|${s.port}`, s.origin);
  for (const s of out.udp) taken.set(`udp|${s.host}|${s.port}`, s.origin);
  const overlay = opts.overlay ?? null;
  const all: StoredObject[] = rows.filter((r) => overlay === null || r.id !== overlay.id);
  if (overlay !== null) {
    all.push({ id: overlay.id, value: overlay.value, createdIndex: 0, modifiedIndex: 0, raw: JSON.stringify(overlay.value) });
    all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  for (const row of all) {
    if (opts.exclude?.(row)) continue;
    const compiled = compileListener(row.id, row.value);
    if ('problem' in compiled) {
      out.skipped.push({ id: row.id, raw: row.raw, problem: compiled.problem });
      continue;
    }
    const proto = 'tcp' in compiled ? 'tcp' : 'udp';
    const spec = 'tcp' in compiled ? compiled.tcp : compiled.udp;
    const key = `${proto}|${spec.host}|${spec.port}`;
    const first = taken.get(key);
    if (first !== undefined) {
      const problem = `${proto} ${formatHostPort(spec.host, spec.port)} is already served by ${first}`;
      out.skipped.push({ id: row.id, raw: row.raw, problem });
      continue;
    }
    taken.set(key, spec.origin);
    if ('tcp' in compiled) out.tcp.push(compiled.tcp);
    else out.udp.push(compiled.udp);
  }
  return out;
}

/** Every port some listener (TCP or UDP) serves: a route naming another port matches nothing. */
export function servedPorts(lists: ListenerLists): Set<number> {
  const ports = new Set<number>();
  for (const s of lists.tcp) ports.add(s.port);
  for (const s of lists.udp) ports.add(s.port);
  return ports;
}

/** "127.0.0.1:9100", or "0.0.0.0:2000-2100" for a range item. */
function addrText(specs: ReadonlyArray<{ host: string; port: number }>): string {
  const first = specs[0]!;
  const last = specs[specs.length - 1]!;
  if (specs.length === 1) return formatHostPort(first.host, first.port);
  return `${formatHostPort(first.host, first.port)}-${last.port}`;
}

/**
 * The config's listeners as read-only objects for GET /apisix/admin/stream_listeners: one per config list
 * item (a port range is one item), id "config:tcp:<index>" / "config:udp:<index>", `source` naming the key.
 */
export function configListenerObjects(config: Config): StoredObject[] {
  const out: StoredObject[] = [];
  for (const proto of ['tcp', 'udp'] as const) {
    const groups = new Map<string, Array<TcpListenSpec | UdpListenSpec>>();
    for (const spec of config.stream[proto]) {
      const group = groups.get(spec.origin);
      if (group === undefined) groups.set(spec.origin, [spec]);
      else group.push(spec);
    }
    for (const [origin, specs] of groups) {
      const index = /\[(\d+)\]$/.exec(origin)?.[1] ?? String(out.length);
      const id = `${CONFIG_ID_PREFIX}${proto}:${index}`;
      const value: JsonObject = { id, addr: addrText(specs), protocol: proto };
      const first = specs[0] as TcpListenSpec;
      if (proto === 'tcp') {
        value.tls = first.tls;
        value.tls_passthrough = first.tlsPassthrough === true;
      }
      const cap = proto === 'tcp' ? first.maxConnections : (specs[0] as UdpListenSpec).maxSessions;
      if (cap !== undefined) value.max_connections = cap;
      value.source = origin;
      value.desc = `from ${origin} in ${config.source}: read-only here, edit the config file and reload`;
      out.push({ id, value, createdIndex: 0, modifiedIndex: 0, raw: JSON.stringify(value) });
    }
  }
  return out;
}
