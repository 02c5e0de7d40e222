// Health-check types shared by the checker, the registry, the dial path and the control API.

import type { NodeHealthView } from '../proxy/balance/types';
import type { CompiledUpstream, UpstreamNode } from '../snapshot/types';

/** What a connect attempt tells passive health: null = connected, else how it failed. */
export type ConnectOutcome = null | 'tcp_failure' | 'timeout';

/**
 * What one active probe tells a checker, named after lua-resty-healthcheck's counters: a success, a refused or
 * broken connection (`tcp_failure`), a timeout, or an unhealthy answer (`http_failure`: an unhealthy HTTP status,
 * no status line, or a UDP reply that does not match). `ignored`: an HTTP status in neither list counts for nothing.
 */
export type ProbeOutcome = 'success' | 'tcp_failure' | 'timeout' | 'http_failure' | 'ignored';

/** The health of one upstream's nodes as pickers and the dial path see it. */
export interface UpstreamHealth extends NodeHealthView {
  /** Passive check input: called by the dial path after every connect attempt. Cheap, never throws. */
  reportConnect(node: UpstreamNode, outcome: ConnectOutcome): void;
  /**
   * checks.passive.timeout in ms when the upstream has passive checks, else 0: the UDP flow counts a session
   * without a reply by then as a timeout (weir extension).
   */
  readonly passiveTimeoutMs: number;
}

/**
 * What the data plane asks per connection: the running checker of an upstream, if it has one. Health lives
 * beside the snapshot, not inside it (src/health/registry.ts implements this). O(1), no allocation.
 */
export interface HealthView {
  checkerOf(upstream: CompiledUpstream): UpstreamHealth | null;
}

/** A HealthView with no checkers: every upstream is taken as healthy (tests, callers without health checks). */
export const NO_HEALTH: HealthView = { checkerOf: () => null };

export type ProbeType = 'tcp' | 'http' | 'https' | 'udp';

/** `checks.active.udp` compiled: the datagram to send and what a good reply looks like. */
export interface UdpProbeConfig {
  send: Uint8Array;
  /** The reply must contain these bytes; null: no byte expectation. */
  expectBytes: Uint8Array | null;
  /** The reply, read as Latin-1 (one char per byte), must match; null: no pattern. */
  expectRegex: RegExp | null;
}

/** `checks.active` with APISIX's defaults applied; times in ms. */
export interface ActiveCheckConfig {
  /** 'http' by default, as in APISIX; stream users usually set 'tcp'. */
  type: ProbeType;
  /**
   * checks.active.proxy_protocol: each probe sends a PROXY header of this version first (v2 LOCAL, v1
   * "PROXY UNKNOWN"), for nodes that refuse connections without one; null: probes send nothing.
   */
  proxyProtocol: 1 | 2 | null;
  /** Bounds each step of a probe (connect, TLS handshake, answer), as lua-resty-healthcheck's socket timeout. */
  timeoutMs: number;
  concurrency: number;
  /** Probe this port instead of the node's. */
  port: number | null;
  /** HTTP Host header and HTTPS SNI (and certificate name); null: the node's DNS name, else its address. */
  host: string | null;
  httpPath: string;
  httpMethod: string;
  httpBody: string;
  /** Extra request header lines, "Name: value" each. */
  reqHeaders: readonly string[];
  /** https: verify the node's certificate (against apisix.ssl.ssl_trusted_certificate, else the runtime's roots). */
  verify: boolean;
  healthyIntervalMs: number;
  /** Consecutive probe successes that bring an unhealthy node back. */
  successes: number;
  healthyStatuses: readonly number[];
  unhealthyIntervalMs: number;
  /** Consecutive refused/failed probes that take a healthy node out; 0 = never. */
  tcpFailures: number;
  /** Consecutive timed-out probes that take a healthy node out; 0 = never. */
  timeouts: number;
  /** Consecutive unhealthy answers that take a healthy node out. */
  httpFailures: number;
  unhealthyStatuses: readonly number[];
  /** type 'udp' only. */
  udp: UdpProbeConfig | null;
}

/** `checks.passive` with APISIX's defaults applied. 0 disables a threshold. */
export interface PassiveCheckConfig {
  type: string;
  successes: number;
  tcpFailures: number;
  timeouts: number;
  /** [weir] UDP sessions: no reply this long after the first datagram counts as a timeout (default 2 s). */
  timeoutMs: number;
}

export interface HealthCheckConfig {
  active: ActiveCheckConfig;
  passive: PassiveCheckConfig | null;
  /** Canonical text of the config: a checker is replaced when it changes, kept when only nodes change. */
  text: string;
}

/** A node's status in APISIX's control API words (lua-resty-healthcheck 3.x). */
export type NodeStatus = 'healthy' | 'mostly_healthy' | 'mostly_unhealthy' | 'unhealthy';

/** The last active probe of a node: its outcome, how long it took, when it ended (ISO 8601). */
export interface LastProbe {
  ok: boolean;
  latency_ms: number;
  at: string;
}

/** One node in `GET /v1/healthcheck`. */
export interface NodeHealthInfo {
  ip: string;
  port: number;
  hostname: string;
  /** The DNS name the node's address came from (a node written as a name); absent for addresses. */
  name?: string;
  status: NodeStatus;
  counter: { success: number; tcp_failure: number; timeout_failure: number; http_failure: number };
  /** null until the first probe of this address has finished. */
  last_probe: LastProbe | null;
}

/** One checker in `GET /v1/healthcheck`: name is the upstream's resource key. */
export interface CheckerInfo {
  name: string;
  type: string;
  nodes: NodeHealthInfo[];
}
