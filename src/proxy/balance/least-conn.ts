// least_conn: the node with the lowest (active + 1) / weight wins; counts every picked connection
// until it is released (failed connect or session end), as APISIX's least_conn does.

import type { ConnInfo, UpstreamNode } from '../../snapshot/types';
import { adoptStates, groupPeers, isEligible, type Peer, pickByGroups } from './state';
import type { Balancer, BalancerOptions, HealthView, NodeState } from './types';

export class LeastConnBalancer implements Balancer {
  readonly states: ReadonlyMap<string, NodeState>;
  private readonly groups: Peer[][];
  /**
   * Where each group's scan starts; advanced on every pick so ties rotate (nginx tries tied servers in
   * turn) instead of always going to the first listed node when connections are short.
   */
  private readonly cursors: number[];

  constructor(nodes: readonly UpstreamNode[], opts: BalancerOptions = {}) {
    this.states = adoptStates(nodes, opts.prev);
    this.groups = groupPeers(nodes, this.states);
    this.cursors = this.groups.map(() => 0);
  }

  private readonly pickInGroup = (group: Peer[], g: number, tried: readonly UpstreamNode[], health: HealthView | null): Peer | undefined => {
    const n = group.length;
    const start = this.cursors[g]! % n;
    let best: Peer | undefined;
    for (let k = 0; k < n; k++) {
      const peer = group[(start + k) % n]!;
      if (!isEligible(peer.node, tried, health)) continue;
      // (a.active+1)/a.weight < (b.active+1)/b.weight, without dividing
      if (best === undefined || (peer.state.active + 1) * best.node.weight < (best.state.active + 1) * peer.node.weight) best = peer;
    }
    if (best !== undefined) this.cursors[g] = (start + 1) % n;
    return best;
  };

  pick(_conn: ConnInfo, tried: readonly UpstreamNode[], health?: HealthView | null): UpstreamNode | undefined {
    const peer = pickByGroups(this.groups, tried, health, this.pickInGroup);
    if (peer === undefined) return undefined;
    peer.state.active++;
    return peer.node;
  }

  release(node: UpstreamNode): void {
    const state = this.states.get(node.address);
    if (state !== undefined && state.active > 0) state.active--;
  }
}

export function createLeastConn(nodes: readonly UpstreamNode[], opts?: BalancerOptions): Balancer {
  return new LeastConnBalancer(nodes, opts);
}
