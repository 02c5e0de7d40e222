// The counters of one route that carries the prometheus plugin, and of each upstream node it used. Made once
// per route label when the plugin compiles (src/metrics/stream-metrics.ts keeps them across snapshots, so a
// changed route keeps counting); the flows reach them through the route's chain (FilterChain.meter) and
// only touch numbers in place: nothing is allocated per connection, except a node's meter on its first use.

import type { ConnectErrorKind } from '../runtime/types';
import type { UpstreamNode } from '../snapshot/types';

/** Why a connect attempt failed: the data plane's kinds, and "no_node" when the balancer had none left. */
export const CONNECT_FAILURE_KINDS = ['refused', 'timeout', 'unreachable', 'tls', 'other', 'no_node'] as const;
export type ConnectFailureKind = (typeof CONNECT_FAILURE_KINDS)[number];

const KIND_INDEX: Readonly<Record<ConnectFailureKind, number>> = Object.fromEntries(CONNECT_FAILURE_KINDS.map((k, i) => [k, i])) as Record<ConnectFailureKind, number>;

/** Upper bounds of the upstream connect-latency histogram, in seconds (loopback to a slow WAN peer). */
export const CONNECT_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One node as seen by one route. Counts of finished connections; `live*` are filled for one scrape only. */
export class NodeMeter {
  /** Bytes of closed connections (sessions): from the client to the node, and back. */
  bytesIn = 0;
  bytesOut = 0;
  /** Failed connect attempts by CONNECT_FAILURE_KINDS index. */
  readonly failures = new Float64Array(CONNECT_FAILURE_KINDS.length);
  /** Successful connects per CONNECT_BUCKETS slot (the last one is +Inf), not cumulative. */
  readonly latency = new Float64Array(CONNECT_BUCKETS.length + 1);
  latencySum = 0;
  latencyCount = 0;
  /** Bytes open connections have moved so far; written by a scrape, read by the same scrape. */
  liveIn = 0;
  liveOut = 0;
  constructor(readonly address: string) {}
}

export class RouteMeter {
  /** Finished connections and UDP sessions, refused ones included (APISIX's apisix_stream_connection_total). */
  connections = 0;
  /** Connections a filter refused, by the code it gave (403, 503, ...). */
  readonly rejections = new Map<number, number>();
  /** Nodes by address; a node is added the first time this route connects to it. */
  readonly nodes = new Map<string, NodeMeter>();
  /** Open TCP connections and UDP sessions; written by a scrape, read by the same scrape. */
  liveConnections = 0;
  liveSessions = 0;
  /** The nodes the route may connect to since the last swap (keepNodes), or null before any swap. */
  private kept: ReadonlySet<string> | null = null;

  constructor(readonly label: string) {}

  /**
   * A snapshot was swapped in whose routes of this label may connect to `nodes`: the other nodes' counters go
   * (those with open connections come back at the next scrape, see dropUnusedNodes). Runs once per swap.
   */
  keepNodes(nodes: ReadonlySet<string>): void {
    this.kept = nodes;
    for (const address of this.nodes.keys()) if (address !== '' && !nodes.has(address)) this.nodes.delete(address);
  }

  /** At a scrape, after the open connections were added: a node no longer kept and without any goes. */
  dropUnusedNodes(): void {
    const kept = this.kept;
    if (kept === null) return;
    for (const [address, m] of this.nodes) {
      if (address !== '' && !kept.has(address) && m.liveIn === 0 && m.liveOut === 0) this.nodes.delete(address);
    }
  }

  /** The meter of a node, made on its first use by this route. */
  node(node: UpstreamNode): NodeMeter {
    let m = this.nodes.get(node.address);
    if (m === undefined) this.nodes.set(node.address, (m = new NodeMeter(node.address)));
    return m;
  }

  /** A connection or session of this route is over (log phase). Runs once per connection. */
  finished(node: UpstreamNode | null, fromClient: number, toClient: number): void {
    this.connections++;
    if (node === null || (fromClient === 0 && toClient === 0)) return;
    const m = this.node(node);
    m.bytesIn += fromClient;
    m.bytesOut += toClient;
  }

  /** A filter refused a connection with `code` (before finished() is called for it). */
  rejected(code: number): void {
    this.rejections.set(code, (this.rejections.get(code) ?? 0) + 1);
  }

  /** A connect attempt succeeded after `ms` milliseconds. */
  connected(node: UpstreamNode, ms: number): void {
    const m = this.node(node);
    const seconds = ms / 1000;
    let i = 0;
    while (i < CONNECT_BUCKETS.length && seconds > CONNECT_BUCKETS[i]!) i++;
    m.latency[i]!++;
    m.latencySum += seconds;
    m.latencyCount++;
  }

  /** A connect attempt failed (node null: the balancer had no node to try). */
  connectFailed(node: UpstreamNode | null, kind: ConnectErrorKind | 'no_node'): void {
    const m = node === null ? this.noNode() : this.node(node);
    m.failures[KIND_INDEX[kind]]!++;
  }

  /** Failures that had no node to name are kept under an empty address. */
  private noNode(): NodeMeter {
    let m = this.nodes.get('');
    if (m === undefined) this.nodes.set('', (m = new NodeMeter('')));
    return m;
  }
}
