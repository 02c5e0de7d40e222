// Smooth weighted round robin (nginx's algorithm) inside priority groups; the default balancer.

import type { ConnInfo, UpstreamNode } from '../../snapshot/types';
import type { Balancer } from './types';

interface Peer {
  node: UpstreamNode;
  weight: number;
  /** nginx's current_weight: grows by `weight` each pick, drops by the total when chosen. */
  current: number;
}

function wasTried(node: UpstreamNode, tried: readonly UpstreamNode[]): boolean {
  // By address: the same host:port listed twice is still one endpoint that already failed.
  for (let i = 0; i < tried.length; i++) if (tried[i] === node || tried[i]!.address === node.address) return true;
  return false;
}

/** One smooth-WRR step over the untried peers of a group; undefined when none is eligible. */
function pickInGroup(group: Peer[], tried: readonly UpstreamNode[]): Peer | undefined {
  let best: Peer | undefined;
  let total = 0;
  for (let i = 0; i < group.length; i++) {
    const peer = group[i]!;
    if (peer.weight <= 0) continue;
    if (tried.length > 0 && wasTried(peer.node, tried)) continue;
    peer.current += peer.weight;
    total += peer.weight;
    if (best === undefined || peer.current > best.current) best = peer;
  }
  if (best !== undefined) best.current -= total;
  return best;
}

export class RoundRobinBalancer implements Balancer {
  /** Priority groups, highest priority first; nodes keep their configured order inside a group. */
  private readonly groups: Peer[][];

  constructor(nodes: readonly UpstreamNode[]) {
    const byPriority = new Map<number, Peer[]>();
    for (const node of nodes) {
      const peer = { node, weight: node.weight, current: 0 };
      const group = byPriority.get(node.priority);
      if (group) group.push(peer);
      else byPriority.set(node.priority, [peer]);
    }
    this.groups = [...byPriority.entries()].sort((a, b) => b[0] - a[0]).map((entry) => entry[1]);
  }

  /** A lower priority group is used only when every node of the higher ones is tried (spec 5.2). */
  pick(_conn: ConnInfo, tried: readonly UpstreamNode[]): UpstreamNode | undefined {
    for (let g = 0; g < this.groups.length; g++) {
      const peer = pickInGroup(this.groups[g]!, tried);
      if (peer !== undefined) return peer.node;
    }
    return undefined;
  }
}

export function createRoundRobin(nodes: readonly UpstreamNode[]): Balancer {
  return new RoundRobinBalancer(nodes);
}
