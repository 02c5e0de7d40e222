// What a logger plugin writes for a finished connection or UDP session: weir's default entry, or the
// entry a `log_format` asks for ({"client_ip": "$remote_addr", "kind": "tcp-proxy"}: a value starting with
// "$" names a variable, any other value is written as it is; a variable without a value leaves its key out,
// as in APISIX). Variables are nginx's stream names for what the log phase knows. Compiled once per conf.

import { hostname } from 'node:os';
import type { JsonObject } from '../lib/json';
import type { FinishedConn } from '../proxy/filter/types';
import type { EndReason } from '../proxy/session/end-reason';

/** nginx's stream $status for how a connection ended (a refusal carries its filter's code). */
export function statusOf(end: EndReason, code: number | undefined): number {
  if (end === 'rejected') return code ?? 403;
  if (end === 'connect_failed' || end === 'no_upstream' || end === 'upstream_refused') return 502;
  return 200;
}

/** A log-phase variable; undefined when it has no value for this connection. `now` is when the entry is made. */
type LogVar = (done: FinishedConn, now: number) => string | number | undefined;

const HOST = hostname();

const VARS: Readonly<Record<string, LogVar>> = {
  remote_addr: (d) => d.info.remoteAddr,
  remote_port: (d) => d.info.remotePort,
  realip_remote_addr: (d) => d.info.remoteAddr,
  server_addr: (d) => d.info.serverAddr,
  server_port: (d) => d.info.serverPort,
  protocol: (d) => (d.info.protocol === 'udp' ? 'UDP' : 'TCP'),
  ssl_server_name: (d) => d.info.sni ?? undefined,
  ssl_preread_server_name: (d) => d.info.sni ?? undefined,
  server_name: (d) => d.info.sni ?? undefined,
  route_id: (d) => d.route.id,
  upstream_addr: (d) => d.node?.address,
  bytes_received: (d) => d.bytesFromClient,
  bytes_sent: (d) => d.bytesToClient,
  upstream_bytes_sent: (d) => (d.node === null ? undefined : d.bytesFromClient),
  upstream_bytes_received: (d) => (d.node === null ? undefined : d.bytesToClient),
  status: (d) => statusOf(d.end, d.code),
  session_time: (d, now) => ((now - d.startedAt) / 1000).toFixed(3),
  msec: (_d, now) => (now / 1000).toFixed(3),
  time_iso8601: (_d, now) => new Date(now).toISOString(),
  start_time: (d) => d.startedAt,
  end_reason: (d) => d.end,
  hostname: () => HOST,
  pid: () => process.pid,
};

/** A variable by name: the log phase's own, else one the route's filters set (mqtt_client_id). */
function compileVar(name: string): LogVar {
  return VARS[name] ?? ((d) => d.vars?.get(name));
}

/** weir's default entry: the access record's facts, under nginx / APISIX names. */
export function defaultEntry(d: FinishedConn, now: number): JsonObject {
  const entry: JsonObject = {
    route_id: d.route.id,
    client_ip: d.info.remoteAddr,
    client_port: d.info.remotePort,
    server_addr: d.info.serverAddr,
    server_port: d.info.serverPort,
    protocol: d.info.protocol,
    upstream: d.node?.address ?? '',
    start_time: d.startedAt,
    latency: now - d.startedAt,
    bytes_received: d.bytesFromClient,
    bytes_sent: d.bytesToClient,
    status: statusOf(d.end, d.code),
    end: d.end,
  };
  if (d.info.sni !== null) entry.sni = d.info.sni;
  const id = d.vars?.get('mqtt_client_id');
  if (id !== undefined) entry.mqtt_client_id = id;
  return entry;
}

/** Builds one entry per finished connection. */
export type EntryBuilder = (done: FinishedConn, now: number) => JsonObject;

/** A log_format, compiled; null (or not an object) gives weir's default entry. */
export function compileLogFormat(format: JsonObject | null): EntryBuilder {
  if (format === null) return defaultEntry;
  const fields: Array<[string, LogVar | unknown]> = Object.entries(format).map(([key, value]) =>
    typeof value === 'string' && value.startsWith('$') ? [key, compileVar(value.slice(1))] : [key, value],
  );
  return (done, now) => {
    const entry: JsonObject = {};
    for (const [key, value] of fields) {
      if (typeof value !== 'function') {
        entry[key] = value;
        continue;
      }
      const got = (value as LogVar)(done, now);
      if (got !== undefined) entry[key] = got;
    }
    return entry;
  };
}
