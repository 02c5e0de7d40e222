// Health-check types shared by the checker, the registry, the dial path and the control API.

import type { NodeHealthView } from '../proxy/balance/types';
import type { CompiledUpstream, UpstreamNode } from '../snapshot/types';

/** What a connect attempt tells passive health: null = connected, else how it failed. */
export type ConnectOutcome = null | 'tcp_failure' | 'timeout';

/** The health of one upstream's nodes as pickers and the dial path see it. */
export interface UpstreamHealth extends NodeHealthView {
  /** Passive check input: called by the dial path after every connect attempt. Cheap, never throws. */
  reportConnect(node: UpstreamNode, outcome: ConnectOutcome): void;
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

/** `checks.active` with APISIX's defaults applied; times in ms. */
export interface ActiveCheckConfig {
  /** As configured ('http' by default); weir always probes with a TCP connect. */
  type: string;
  /**
   * checks.active.proxy_protocol: each probe sends a PROXY header of this version first (v2 LOCAL, v1
   * "PROXY UNKNOWN"), for nodes that refuse connections without one; null: probes send nothing.
   */
  proxyProtocol: 1 | 2 | null;
  timeoutMs: number;
  concurrency: number;
  /** Probe this port instead of the node's. */
  port: number | null;
  healthyIntervalMs: number;
  /** Consecutive probe successes that bring an unhealthy node back. */
  successes: number;
  unhealthyIntervalMs: number;
  /** Consecutive refused/failed probes that take a healthy node out; 0 = never. */
  tcpFailures: number;
  /** Consecutive timed-out probes that take a healthy node out; 0 = never. */
  timeouts: number;
}

/** `checks.passive` with APISIX's defaults applied. 0 disables a threshold. */
export interface PassiveCheckConfig {
  type: string;
  successes: number;
  tcpFailures: number;
  timeouts: number;
}

export interface HealthCheckConfig {
  active: ActiveCheckConfig;
  passive: PassiveCheckConfig | null;
  /** Canonical text of the config: a checker is replaced when it changes, kept when only nodes change. */
  text: string;
}

/** A node's status in APISIX's control API words (lua-resty-healthcheck 3.x). */
export type NodeStatus = 'healthy' | 'mostly_healthy' | 'mostly_unhealthy' | 'unhealthy';

/** One node in `GET /v1/healthcheck`. */
export interface NodeHealthInfo {
  ip: string;
  port: number;
  hostname: string;
  status: NodeStatus;
  counter: { success: number; tcp_failure: number; timeout_failure: number; http_failure: number };
}

/** One checker in `GET /v1/healthcheck`: name is the upstream's resource key. */
export interface CheckerInfo {
  name: string;
  type: string;
  nodes: NodeHealthInfo[];
}
