// One upstream's health checker: per-node counters and status, active TCP connect probes on two
// timers (healthy nodes every healthy.interval, unhealthy ones every unhealthy.interval) and passive
// reports from the dial path. Counting follows lua-resty-healthcheck: a failure resets the success
// counter, a success resets all failure counters, and a threshold of 0 never trips.

import { logger } from '../log/logger';
import { writeProxyLocalHeader } from '../proxy/connect/proxy-header';
import type { TcpDataPlane } from '../runtime/types';
import type { UpstreamNode } from '../snapshot/types';
import type { CheckerInfo, ConnectOutcome, HealthCheckConfig, NodeStatus, UpstreamHealth } from './types';

/** The part of the data plane probes use: connect and close. Every runtime's plane has it. */
export type ProbePlane = Pick<TcpDataPlane, 'connect' | 'destroy'>;

interface Target {
  readonly node: UpstreamNode;
  healthy: boolean;
  success: number;
  tcpFailure: number;
  timeoutFailure: number;
  probing: boolean;
}

interface Thresholds {
  successes: number;
  tcpFailures: number;
  timeouts: number;
}

type Timer = ReturnType<typeof setInterval>;

/**
 * What a probe sends with checks.active.proxy_protocol: a v2 LOCAL header (the receiver keeps the probe's
 * own addresses, as for a load balancer's health check), or v1's "PROXY UNKNOWN" (v1 has no LOCAL). Never a
 * header naming a client: a probe has none.
 */
const LOCAL_HEADERS = { 1: writeProxyLocalHeader(1), 2: writeProxyLocalHeader(2) } as const;

function unref(timer: Timer): Timer {
  (timer as { unref?: () => void }).unref?.(); // Deno's timers are numbers
  return timer;
}

export class UpstreamChecker implements UpstreamHealth {
  unhealthyCount = 0;
  /** By address: duplicate host:port entries are one target. */
  private targets = new Map<string, Target>();
  private timers: Timer[] = [];
  private inflight = 0;
  private stopped = false;
  private nodeList: readonly UpstreamNode[] = [];

  constructor(
    readonly key: string,
    readonly config: HealthCheckConfig,
    nodes: readonly UpstreamNode[],
    private readonly plane: ProbePlane,
  ) {
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

  /** Replace the node set (same checks config). Nodes kept by address keep their status and counters. */
  setNodes(nodes: readonly UpstreamNode[]): void {
    const next = new Map<string, Target>();
    let unhealthy = 0;
    for (const node of nodes) {
      if (next.has(node.address)) continue;
      const old = this.targets.get(node.address);
      const target = old ?? { node, healthy: true, success: 0, tcpFailure: 0, timeoutFailure: 0, probing: false };
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
    const passive = this.config.passive;
    if (passive === null || this.stopped) return;
    const target = this.targets.get(node.address);
    if (target !== undefined) this.record(target, outcome, passive, 'passive');
  }

  /** Apply one outcome to a target and flip its status when a threshold is reached. */
  private record(t: Target, outcome: ConnectOutcome, limits: Thresholds, source: 'active' | 'passive'): void {
    if (outcome === null) {
      t.tcpFailure = 0;
      t.timeoutFailure = 0;
      if (t.healthy) return;
      t.success++;
      if (limits.successes > 0 && t.success >= limits.successes) this.flip(t, true, `${source} success ${t.success}/${limits.successes}`);
      return;
    }
    t.success = 0;
    if (!t.healthy) return;
    if (outcome === 'timeout') {
      t.timeoutFailure++;
      if (limits.timeouts > 0 && t.timeoutFailure >= limits.timeouts) {
        this.flip(t, false, `${source} timeout ${t.timeoutFailure}/${limits.timeouts}`);
      }
    } else {
      t.tcpFailure++;
      if (limits.tcpFailures > 0 && t.tcpFailure >= limits.tcpFailures) {
        this.flip(t, false, `${source} tcp_failure ${t.tcpFailure}/${limits.tcpFailures}`);
      }
    }
  }

  private flip(t: Target, healthy: boolean, why: string): void {
    t.healthy = healthy;
    t.success = 0;
    t.tcpFailure = 0;
    t.timeoutFailure = 0;
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
    const { port, timeoutMs, proxyProtocol } = this.config.active;
    t.probing = true;
    this.inflight++;
    const prefix = proxyProtocol === null ? null : LOCAL_HEADERS[proxyProtocol];
    this.plane.connect(t.node.host, port ?? t.node.port, timeoutMs, (err, conn) => {
      t.probing = false;
      this.inflight--;
      if (conn !== null) this.plane.destroy(conn);
      // a probe that outlived its checker, or its node's removal, says nothing about the current set
      if (this.stopped || this.targets.get(t.node.address) !== t) return;
      const outcome: ConnectOutcome = err === null ? null : err.kind === 'timeout' ? 'timeout' : 'tcp_failure';
      this.record(t, outcome, this.config.active, 'active');
    }, null, prefix);
  }

  /** The control API view. */
  info(): CheckerInfo {
    const nodes = [...this.targets.values()].map((t) => ({
      ip: t.node.host,
      port: t.node.port,
      hostname: t.node.host,
      status: statusOf(t),
      counter: { success: t.success, tcp_failure: t.tcpFailure, timeout_failure: t.timeoutFailure, http_failure: 0 },
    }));
    return { name: this.key, type: this.config.active.type, nodes };
  }
}

/** lua-resty-healthcheck's four states: a healthy node with failures counted is "mostly" healthy, and so on. */
function statusOf(t: Target): NodeStatus {
  if (t.healthy) return t.tcpFailure > 0 || t.timeoutFailure > 0 ? 'mostly_healthy' : 'healthy';
  return t.success > 0 ? 'mostly_unhealthy' : 'unhealthy';
}
