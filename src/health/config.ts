// `checks` JSON (already validated) -> HealthCheckConfig with APISIX's defaults (spec 3.4). Pure.

import type { ActiveCheckConfig, HealthCheckConfig, PassiveCheckConfig, ProbeType, UdpProbeConfig } from './types';

type Obj = Record<string, unknown>;

/** APISIX's defaults for the active HTTP status lists. */
export const HEALTHY_STATUSES: readonly number[] = [200, 302];
export const UNHEALTHY_STATUSES: readonly number[] = [429, 404, 500, 501, 502, 503, 504, 505];
/** [weir] checks.passive.timeout: how long a UDP session may wait for its first reply. */
export const DEFAULT_PASSIVE_TIMEOUT_MS = 2000;

const PROBE_TYPES: readonly string[] = ['tcp', 'http', 'https', 'udp'];

function obj(x: unknown): Obj {
  return x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Obj) : {};
}

function count(x: unknown, fallback: number): number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : fallback;
}

function seconds(x: unknown, fallback: number): number {
  return Math.round((typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : fallback) * 1000);
}

function text(x: unknown, fallback: string): string {
  return typeof x === 'string' ? x : fallback;
}

function statuses(x: unknown, fallback: readonly number[]): readonly number[] {
  return Array.isArray(x) && x.every((n) => typeof n === 'number') ? (x as number[]) : fallback;
}

/** "1234ab" -> bytes (the schema checked the digits). */
export function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function compileUdp(u: Obj): UdpProbeConfig {
  const send = typeof u.send_hex === 'string' ? hexBytes(u.send_hex) : new TextEncoder().encode(text(u.send, ''));
  const expectBytes =
    typeof u.expect_hex === 'string' ? hexBytes(u.expect_hex) : typeof u.expect === 'string' ? new TextEncoder().encode(u.expect) : null;
  const expectRegex = typeof u.expect_regex === 'string' ? new RegExp(u.expect_regex) : null;
  return { send, expectBytes, expectRegex };
}

function compileActive(a: Obj, proxyVersion: 1 | 2): ActiveCheckConfig {
  const healthy = obj(a.healthy);
  const unhealthy = obj(a.unhealthy);
  const type = (typeof a.type === 'string' && PROBE_TYPES.includes(a.type) ? a.type : 'http') as ProbeType;
  return {
    type,
    proxyProtocol: a.proxy_protocol === true ? proxyVersion : null,
    timeoutMs: seconds(a.timeout, 1),
    concurrency: Math.max(1, count(a.concurrency, 10)),
    port: typeof a.port === 'number' && Number.isInteger(a.port) ? a.port : null,
    host: typeof a.host === 'string' && a.host !== '' ? a.host : null,
    httpPath: text(a.http_path, '/'),
    httpMethod: text(a.http_method, 'GET'),
    httpBody: text(a.http_req_body, ''),
    reqHeaders: Array.isArray(a.req_headers) ? a.req_headers.filter((h): h is string => typeof h === 'string') : [],
    verify: a.https_verify_certificate !== false,
    healthyIntervalMs: seconds(healthy.interval, 1),
    successes: Math.max(1, count(healthy.successes, 2)),
    healthyStatuses: statuses(healthy.http_statuses, HEALTHY_STATUSES),
    unhealthyIntervalMs: seconds(unhealthy.interval, 1),
    tcpFailures: count(unhealthy.tcp_failures, 2),
    timeouts: count(unhealthy.timeouts, 3),
    httpFailures: count(unhealthy.http_failures, 5),
    unhealthyStatuses: statuses(unhealthy.http_statuses, UNHEALTHY_STATUSES),
    udp: type === 'udp' ? compileUdp(obj(a.udp)) : null,
  };
}

function compilePassive(p: Obj): PassiveCheckConfig {
  const healthy = obj(p.healthy);
  const unhealthy = obj(p.unhealthy);
  return {
    type: typeof p.type === 'string' ? p.type : 'http',
    successes: count(healthy.successes, 5),
    tcpFailures: count(unhealthy.tcp_failures, 2),
    timeouts: count(unhealthy.timeouts, 7),
    timeoutMs: seconds(p.timeout, DEFAULT_PASSIVE_TIMEOUT_MS / 1000),
  };
}

/**
 * Compile an upstream's `checks`; null when it has none. Runs at snapshot build. `active` is
 * required by the schema; a missing one here (unvalidated input) still gets the defaults.
 * `proxyVersion`: the PROXY protocol version the upstream's nodes speak (its `proxy_protocol.version`, else
 * 1 as a listener's proxy_protocol_to_upstream sends), for probes with `checks.active.proxy_protocol: true`.
 */
export function compileHealthChecks(checks: unknown, proxyVersion: 1 | 2 = 1): HealthCheckConfig | null {
  if (checks === undefined || checks === null) return null;
  const c = obj(checks);
  const active = compileActive(obj(c.active), proxyVersion);
  const passive = c.passive === undefined || c.passive === null ? null : compilePassive(obj(c.passive));
  return { active, passive, text: JSON.stringify({ active, passive }, canonical) };
}

/** The compiled config as text: payload bytes as hex, patterns as their source (JSON has neither). */
function canonical(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (value instanceof RegExp) return value.source;
  return value;
}
