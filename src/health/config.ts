// `checks` JSON (already validated) -> HealthCheckConfig with APISIX's defaults (spec 3.4). Pure.

import type { ActiveCheckConfig, HealthCheckConfig, PassiveCheckConfig } from './types';

type Obj = Record<string, unknown>;

function obj(x: unknown): Obj {
  return x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Obj) : {};
}

function count(x: unknown, fallback: number): number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : fallback;
}

function seconds(x: unknown, fallback: number): number {
  return Math.round((typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : fallback) * 1000);
}

function compileActive(a: Obj, proxyVersion: 1 | 2): ActiveCheckConfig {
  const healthy = obj(a.healthy);
  const unhealthy = obj(a.unhealthy);
  return {
    type: typeof a.type === 'string' ? a.type : 'http',
    proxyProtocol: a.proxy_protocol === true ? proxyVersion : null,
    timeoutMs: seconds(a.timeout, 1),
    concurrency: Math.max(1, count(a.concurrency, 10)),
    port: typeof a.port === 'number' && Number.isInteger(a.port) ? a.port : null,
    healthyIntervalMs: seconds(healthy.interval, 1),
    successes: Math.max(1, count(healthy.successes, 2)),
    unhealthyIntervalMs: seconds(unhealthy.interval, 1),
    tcpFailures: count(unhealthy.tcp_failures, 2),
    timeouts: count(unhealthy.timeouts, 3),
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
  return { active, passive, text: JSON.stringify({ active, passive }) };
}

/** The note the snapshot build logs for probe types weir serves differently from APISIX. */
export function healthCheckNote(config: HealthCheckConfig): string | null {
  const t = config.active.type;
  return t === 'tcp' ? null : `checks.active.type is "${t}"; weir probes stream upstreams with TCP connects only`;
}
