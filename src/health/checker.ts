// One upstream's health checker: per-node counters and status, active probes (src/health/probe.ts: tcp,
// http, https, udp) on two timers (healthy nodes every healthy.interval, unhealthy ones every
// unhealthy.interval) and passive reports from the dial path and the UDP flow. Counting follows
// lua-resty-healthcheck: a failure resets the success counter, a success resets all failure counters,
// a threshold of 0 never trips, and an HTTP status in neither list counts for nothing.

import { logger } from '../log/logger';
import type { TlsClientConfig } from '../runtime/types';
import type { UpstreamNode } from '../snapshot/types';
import { type ProbePlane, type ProbePorts, runProbe, type UdpProbePlane } from './probe';
import type { CheckerInfo, ConnectOutcome, HealthCheckConfig, NodeStatus, ProbeOutcome, UpstreamHealth } from './types';

export type { ProbePlane, UdpProbePlane } from './probe';

/** What a checker probes with: the TCP plane, and optionally the UDP plane and the trusted CA. */
export interface CheckerPorts {
  tcp: ProbePlane;
  udp?: UdpProbePlane | null;
  /** apisix.ssl.ssl_trusted_certificate for https probes with https_verify_certificate (null: the runtime's roots). */
  trustedCa?: string | null;
}

interface Target {
  readonly node: UpstreamNode;
  healthy: boolean;
  success: number;
  tcpFailure: number;
  timeoutFailure: number;
  httpFailure: number;
  probing: boolean;
  /** The last finished probe: outcome, ms, when (epoch ms; 0 = none yet). */
  lastOk: boolean;
  lastLatencyMs: number;
  lastAt: number;
}

interface Thresholds {
  successes: number;
  tcpFailures: number;
  timeouts: number;
  httpFailures: number;
}

type Timer = ReturnType<typeof setInterval>;

/**
 * What a probe sends with checks.active.proxy_protocol: a v2 LOCAL header (the receiver keeps the probe's
 * own addresses, as for a load balancer's health check), or v1's "PROXY UNKNOWN" (v1 has no LOCAL). Never a
 * header naming a client: a probe has none.
 */

function unref(timer: Timer): Timer {
  (timer as { unref?: () => void }).unref?.(); // Deno's timers are numbers
  return timer;
}

const CONNECT_OUTCOME: Record<string, ProbeOutcome> = { tcp_failure: 'tcp_failure', timeout: 'timeout' };

export class UpstreamChecker implements UpstreamHealth {
  unhealthyCount = 0;
  readonly passiveTimeoutMs: number;
  /** By address: duplicate host:port entries are one target. */
  private targets = new Map<string, Target>();
  private timers: Timer[] = [];
  private inflight = 0;
  private stopped = false;
  private nodeList: readonly UpstreamNode[] = [];
  private readonly ports: ProbePorts;
  private readonly passiveLimits: Thresholds | null;

  constructor(
    readonly key: string,
    readonly config: HealthCheckConfig,
    nodes: readonly UpstreamNode[],
    ports: CheckerPorts | ProbePlane,
  ) {
    const p: CheckerPorts = 'tcp' in ports ? ports : { tcp: ports };
    const a = config.active;
    // one TLS settings object per checker: the plane caches its client context by identity
    const tls: TlsClientConfig | null = a.type === 'https' ? { verify: a.verify, ca: p.trustedCa ?? null, cert: null, key: null } : null;
    this.ports = { tcp: p.tcp, udp: p.udp ?? null, tls };
    // passive checks in stream count connects only (spec 5.5): HTTP failures never come from them
    this.passiveLimits = config.passive === null ? null : { ...config.passive, httpFailures: 0 };
    this.passiveTimeoutMs = config.passive?.timeoutMs ?? 0;
    this.setNodes(nodes);
  }

  /** The node list the checker was last given (identity lets the registry skip unchanged upstreams). */
  get nodes(): readonly UpstreamNode[] {
    return this.nodeList;
  }

  /** Start probing: one round of each kind now, then on their intervals. Timers never hold the process open. */
  start(): void {
    if (this.stopped || this.timers.length > 0) return;
    const { healthyIntervalMs, unhealthyIntervalMs } = this.config.active;
    this.timers.push(unref(setInterval(() => this.probeRound(true), healthyIntervalMs)));
    this.timers.push(unref(setInterval(() => this.probeRound(false), unhealthyIntervalMs)));
    this.probeRound(true);
  }

  /** Stop every timer; probes in flight finish without effect. Idempotent. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** Replace the node set (same checks config). Nodes kept by address keep their status, counters and last probe. */
  setNodes(nodes: readonly UpstreamNode[]): void {
    const next = new Map<string, Target>();
    let unhealthy = 0;
    for (const node of nodes) {
      if (next.has(node.address)) continue;
      const old = this.targets.get(node.address);
      const target: Target = old ?? {
        node, healthy: true, success: 0, tcpFailure: 0, timeoutFailure: 0, httpFailure: 0, probing: false, lastOk: false, lastLatencyMs: 0, lastAt: 0,
      };
      next.set(node.address, target);
      if (!target.healthy) unhealthy++;
    }
    this.targets = next;
    this.unhealthyCount = unhealthy;
    this.nodeList = nodes;
  }

  isUnhealthy(node: UpstreamNode): boolean {
    const t = this.targets.get(node.address);
    return t !== undefined && !t.healthy;
  }

  reportConnect(node: UpstreamNode, outcome: ConnectOutcome): void {
    const limits = this.passiveLimits;
    if (limits === null || this.stopped) return;
    const target = this.targets.get(node.address);
    if (target !== undefined) this.record(target, outcome === null ? 'success' : CONNECT_OUTCOME[outcome]!, limits, 'passive');
  }

  /** Apply one outcome to a target and flip its status when a threshold is reached. */
  private record(t: Target, outcome: ProbeOutcome, limits: Thresholds, source: 'active' | 'passive'): void {
    if (outcome === 'ignored') return;
    if (outcome === 'success') {
      t.tcpFailure = 0;
      t.timeoutFailure = 0;
      t.httpFailure = 0;
      if (t.healthy) return;
      t.success++;
      if (limits.successes > 0 && t.success >= limits.successes) this.flip(t, true, `${source} success ${t.success}/${limits.successes}`);
      return;
    }
    t.success = 0;
    if (!t.healthy) return;
    let counted: number;
    let limit: number;
    if (outcome === 'timeout') {
      counted = ++t.timeoutFailure;
      limit = limits.timeouts;
    } else if (outcome === 'http_failure') {
      counted = ++t.httpFailure;
      limit = limits.httpFailures;
    } else {
      counted = ++t.tcpFailure;
      limit = limits.tcpFailures;
    }
    if (limit > 0 && counted >= limit) this.flip(t, false, `${source} ${outcome} ${counted}/${limit}`);
  }

  private flip(t: Target, healthy: boolean, why: string): void {
    t.healthy = healthy;
    t.success = 0;
    t.tcpFailure = 0;
    t.timeoutFailure = 0;
    t.httpFailure = 0;
    this.unhealthyCount += healthy ? -1 : 1;
    const fields = { upstream: this.key, node: t.node.address, after: why };
    if (healthy) logger.info('upstream node is healthy again', fields);
    else logger.warn('upstream node is unhealthy', fields);
  }

  /**
   * Probe every target in the given state (healthy or not) that has no probe in flight, up to
   * `concurrency` at once. The timers call it; tests call it to step the checker deterministically.
   */
  probeRound(healthy: boolean): void {
    for (const t of this.targets.values()) {
      if (this.stopped || this.inflight >= this.config.active.concurrency) return;
      if (t.healthy === healthy && !t.probing) this.probe(t);
    }
  }

  private probe(t: Target): void {
    t.probing = true;
    this.inflight++;
    runProbe(this.ports, this.config.active, t.node, (outcome, latencyMs) => {
      t.probing = false;
      this.inflight--;
      // a probe that outlived its checker, or its node's removal, says nothing about the current set
      if (this.stopped || this.targets.get(t.node.address) !== t) return;
      t.lastOk = outcome === 'success';
      t.lastLatencyMs = latencyMs;
      t.lastAt = Date.now();
      this.record(t, outcome, this.config.active, 'active');
    });
  }

  /** The control API view. */
  info(): CheckerInfo {
    const nodes = [...this.targets.values()].map((t) => ({
      ip: t.node.host,
      port: t.node.port,
      hostname: t.node.host,
      ...(t.node.name !== undefined ? { name: t.node.name } : {}),
      status: statusOf(t),
      counter: { success: t.success, tcp_failure: t.tcpFailure, timeout_failure: t.timeoutFailure, http_failure: t.httpFailure },
      last_probe: t.lastAt === 0 ? null : { ok: t.lastOk, latency_ms: Math.round(t.lastLatencyMs * 10) / 10, at: new Date(t.lastAt).toISOString() },
    }));
    return { name: this.key, type: this.config.active.type, nodes };
  }
}

/** lua-resty-healthcheck's four states: a healthy node with failures counted is "mostly" healthy, and so on. */
function statusOf(t: Target): NodeStatus {
  if (t.healthy) return t.tcpFailure > 0 || t.timeoutFailure > 0 || t.httpFailure > 0 ? 'mostly_healthy' : 'healthy';
  return t.success > 0 ? 'mostly_unhealthy' : 'unhealthy';
}
