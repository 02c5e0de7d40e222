// Base of the balancers that pick the lowest-scoring eligible peer (least_conn, ewma): the per-group scan
// with a rotating start, and the active-connection count that pick() raises and release() lowers.

import type { ConnInfo, UpstreamNode } from '../../snapshot/types';
import { adoptStates, groupPeers, isEligible, type Peer, pickByGroups } from './state';
import type { Balancer, BalancerOptions, NodeHealthView, NodeState } from './types';

export abstract class ScoredBalancer implements Balancer {
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

  /** Lower wins; a tie keeps the peer the scan met first. `now` is what clock() returned for this scan. */
  protected abstract score(peer: Peer, now: number): number;

  /** Read once per group scan and passed to score(); balancers that ignore time need no clock read. */
  protected clock(): number {
    return 0;
  }

  /** The lowest-scored eligible peer of a group, scanning from its cursor; moves nothing (explain's peek uses it as is). */
  // Arrow fields, not methods: pickByGroups gets the same function on every pick, no bind per call.
  private readonly peekInGroup = (group: Peer[], g: number, tried: readonly UpstreamNode[], health: NodeHealthView | null): Peer | undefined => {
    const n = group.length;
    const start = this.cursors[g]! % n;
    const now = this.clock();
    let best: Peer | undefined;
    let bestScore = 0;
    for (let k = 0; k < n; k++) {
      const peer = group[(start + k) % n]!;
      if (!isEligible(peer.node, tried, health)) continue;
      const score = this.score(peer, now);
      if (best === undefined || score < bestScore) {
        best = peer;
        bestScore = score;
      }
    }
    return best;
  };

  /** The same scan, then the cursor moves on, so ties take turns. */
  private readonly pickInGroup = (group: Peer[], g: number, tried: readonly UpstreamNode[], health: NodeHealthView | null): Peer | undefined => {
    const best = this.peekInGroup(group, g, tried, health);
    if (best !== undefined) this.cursors[g] = (this.cursors[g]! % group.length + 1) % group.length;
    return best;
  };

  pick(_conn: ConnInfo, tried: readonly UpstreamNode[], health?: NodeHealthView | null): UpstreamNode | undefined {
    const peer = pickByGroups(this.groups, tried, health, this.pickInGroup);
    if (peer === undefined) return undefined;
    peer.state.active++;
    return peer.node;
  }

  peek(_conn: ConnInfo, tried: readonly UpstreamNode[], health?: NodeHealthView | null): UpstreamNode | undefined {
    return pickByGroups(this.groups, tried, health, this.peekInGroup)?.node;
  }

  release(node: UpstreamNode): void {
    const state = this.states.get(node.address);
    if (state !== undefined && state.active > 0) state.active--;
  }
}
