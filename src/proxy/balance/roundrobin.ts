// Smooth weighted round robin (nginx's algorithm) inside priority groups; the default balancer.

import type { ConnInfo, UpstreamNode } from '../../snapshot/types';
import { adoptStates, groupPeers, isEligible, type Peer, pickByGroups } from './state';
import type { Balancer, BalancerOptions, NodeHealthView, NodeState } from './types';

/**
 * One smooth-WRR step over the eligible peers of a group; undefined when none is eligible.
 * `current` is nginx's current_weight: it grows by `weight` each pick and drops by the total when chosen.
 */
function pickInGroup(group: Peer[], _g: number, tried: readonly UpstreamNode[], health: NodeHealthView | null): Peer | undefined {
  let best: Peer | undefined;
  let total = 0;
  for (let i = 0; i < group.length; i++) {
    const peer = group[i]!;
    if (!isEligible(peer.node, tried, health)) continue;
    peer.state.current += peer.node.weight;
    total += peer.node.weight;
    if (best === undefined || peer.state.current > best.state.current) best = peer;
  }
  if (best !== undefined) best.state.current -= total;
  return best;
}

/** The peer pickInGroup would choose, computed without adding to any current weight. */
function peekInGroup(group: Peer[], _g: number, tried: readonly UpstreamNode[], health: NodeHealthView | null): Peer | undefined {
  let best: Peer | undefined;
  let bestCurrent = 0;
  for (let i = 0; i < group.length; i++) {
    const peer = group[i]!;
    if (!isEligible(peer.node, tried, health)) continue;
    const current = peer.state.current + peer.node.weight;
    if (best === undefined || current > bestCurrent) {
      best = peer;
      bestCurrent = current;
    }
  }
  return best;
}

export class RoundRobinBalancer implements Balancer {
  readonly states: ReadonlyMap<string, NodeState>;
  /** Priority groups, highest priority first; nodes keep their configured order inside a group. */
  private readonly groups: Peer[][];

  constructor(nodes: readonly UpstreamNode[], opts: BalancerOptions = {}) {
    this.states = adoptStates(nodes, opts.prev);
    this.groups = groupPeers(nodes, this.states);
  }

  /** A lower priority group is used only when every node of the higher ones is tried or unhealthy (spec 5.2). */
  pick(_conn: ConnInfo, tried: readonly UpstreamNode[], health?: NodeHealthView | null): UpstreamNode | undefined {
    return pickByGroups(this.groups, tried, health, pickInGroup)?.node;
  }

  peek(_conn: ConnInfo, tried: readonly UpstreamNode[], health?: NodeHealthView | null): UpstreamNode | undefined {
    return pickByGroups(this.groups, tried, health, peekInGroup)?.node;
  }
}

export function createRoundRobin(nodes: readonly UpstreamNode[], opts?: BalancerOptions): Balancer {
  return new RoundRobinBalancer(nodes, opts);
}
