// The one interface every load balancer implements. Picks are pure with respect to the network.

import type { ConnInfo, UpstreamNode } from '../../snapshot/types';

/**
 * What a picker needs to know about node health (implemented by src/health). `unhealthyCount` lets a
 * pick skip the per-node lookups when every node is healthy, which is the common case.
 */
export interface NodeHealthView {
  readonly unhealthyCount: number;
  isUnhealthy(node: UpstreamNode): boolean;
}

/**
 * Per-node balancer state, kept by address and handed from one balancer version to the next when an
 * upstream changes, so counters of unchanged nodes survive an update (and connections that started
 * on the old version release into the same counters).
 */
export interface NodeState {
  readonly address: string;
  /** Connections picked and not yet released (least_conn, ewma). */
  active: number;
  /** Smooth weighted round robin's current weight. */
  current: number;
  /** Connect latency EWMA in ms and when it was last updated (ewma); ewmaAt -1 = never measured. */
  ewma: number;
  ewmaAt: number;
}

export interface Balancer {
  /**
   * Choose a node for a new connection, skipping the nodes in `tried` (earlier failed attempts of the
   * same connection) and, while any healthy candidate remains, the nodes `health` marks unhealthy.
   * Returns undefined when no node is left. Runs once per attempt: no allocation-heavy work.
   */
  pick(conn: ConnInfo, tried: readonly UpstreamNode[], health?: NodeHealthView | null): UpstreamNode | undefined;
  /**
   * The node pick() would return now with the same arguments, without moving anything (no round-robin weight,
   * cursor or connection count changes): what explain reports as the next node. Not on any connection's path.
   */
  peek(conn: ConnInfo, tried: readonly UpstreamNode[], health?: NodeHealthView | null): UpstreamNode | undefined;
  /**
   * A node returned by pick is no longer in use: its connect failed, or its session ended. Call it
   * exactly once per successful pick. Only counting balancers (least_conn, ewma) implement it.
   */
  release?(node: UpstreamNode): void;
  /** A connect to `node` finished after `ms` (ok or failed). Only ewma implements it. */
  observe?(node: UpstreamNode, ms: number, ok: boolean): void;
  /** State by address, for the next version of the same upstream to adopt. */
  readonly states: ReadonlyMap<string, NodeState>;
}

/** Options every balancer constructor takes. */
export interface BalancerOptions {
  /** The previous version of the same upstream's balancer: its node states are adopted by address. */
  prev?: Balancer | null;
  /** chash: `hash_on` and `key` as stored. */
  hashOn?: string;
  key?: string;
  /** ewma: clock seam (ms). */
  now?: () => number;
}
