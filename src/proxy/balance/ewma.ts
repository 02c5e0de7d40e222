// ewma: prefer the node with the lowest decaying average of connect latency, scaled by the
// connections it already has and by its weight ("peak EWMA", as APISIX's ewma and Finagle use).

import type { UpstreamNode } from '../../snapshot/types';
import { ScoredBalancer } from './scored';
import type { Peer } from './state';
import type { Balancer, BalancerOptions, NodeState } from './types';

/** APISIX's DECAY_TIME: an old sample weighs 1/e after 10 s, so a node that was slow gets another chance. */
export const DECAY_MS = 10_000;
/** A failed connect counts as a sample at least this slow, so new connections avoid the node for a while. */
export const FAILURE_SAMPLE_MS = 1_000;
/**
 * Added to every latency before scaling by connections: on a LAN connects take well under a
 * millisecond, and without a floor every node would score 0 and the in-flight count would not matter.
 */
const LATENCY_FLOOR_MS = 1;

export class EwmaBalancer extends ScoredBalancer {
  private readonly now: () => number;

  constructor(nodes: readonly UpstreamNode[], opts: BalancerOptions = {}) {
    super(nodes, opts);
    this.now = opts.now ?? Date.now;
  }

  protected override clock(): number {
    return this.now();
  }

  /** The latency average decayed towards 0 for the time since its last sample. */
  private decayed(state: NodeState, now: number): number {
    if (state.ewma === 0) return 0;
    const age = now - state.ewmaAt;
    return age <= 0 ? state.ewma : state.ewma * Math.exp(-age / DECAY_MS);
  }

  protected override score(peer: Peer, now: number): number {
    return ((this.decayed(peer.state, now) + LATENCY_FLOOR_MS) * (peer.state.active + 1)) / peer.node.weight;
  }

  /** Fold one connect latency into the node's average: ewma = ewma*w + sample*(1-w), w = e^(-dt/decay). */
  observe(node: UpstreamNode, ms: number, ok: boolean): void {
    const state = this.states.get(node.address);
    if (state === undefined) return;
    const sample = ok ? Math.max(0, ms) : Math.max(ms, FAILURE_SAMPLE_MS);
    const now = this.now();
    if (state.ewmaAt < 0) {
      state.ewma = sample; // first sample: nothing to average with
    } else {
      const w = Math.exp(-Math.max(0, now - state.ewmaAt) / DECAY_MS);
      state.ewma = state.ewma * w + sample * (1 - w);
    }
    state.ewmaAt = now;
  }
}

export function createEwma(nodes: readonly UpstreamNode[], opts?: BalancerOptions): Balancer {
  return new EwmaBalancer(nodes, opts);
}
