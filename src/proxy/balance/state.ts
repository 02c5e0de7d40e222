// Shared building blocks of the balancers: node states adopted across versions, priority groups, and
// the eligibility test (weight, tried, health) every pick applies.

import type { UpstreamNode } from '../../snapshot/types';
import type { Balancer, NodeHealthView, NodeState } from './types';

/** A node with its (possibly adopted) state. */
export interface Peer {
  readonly node: UpstreamNode;
  readonly state: NodeState;
}

/**
 * One state per distinct address, taken over from `prev` when it had that address. Runs at snapshot
 * build. Two entries with the same host:port share one state: they are one endpoint.
 */
export function adoptStates(nodes: readonly UpstreamNode[], prev: Balancer | null | undefined): Map<string, NodeState> {
  const states = new Map<string, NodeState>();
  for (const node of nodes) {
    if (states.has(node.address)) continue;
    const old = prev?.states.get(node.address);
    states.set(node.address, old ?? { address: node.address, active: 0, current: 0, ewma: 0, ewmaAt: -1 });
  }
  return states;
}

/** Peers grouped by priority, highest first; configured order inside a group (spec 5.2). */
export function groupPeers(nodes: readonly UpstreamNode[], states: ReadonlyMap<string, NodeState>): Peer[][] {
  const byPriority = new Map<number, Peer[]>();
  for (const node of nodes) {
    const peer = { node, state: states.get(node.address)! };
    const group = byPriority.get(node.priority);
    if (group) group.push(peer);
    else byPriority.set(node.priority, [peer]);
  }
  return [...byPriority.entries()].sort((a, b) => b[0] - a[0]).map((entry) => entry[1]);
}

function wasTried(node: UpstreamNode, tried: readonly UpstreamNode[]): boolean {
  // By address: the same host:port listed twice is still one endpoint that already failed.
  for (let i = 0; i < tried.length; i++) if (tried[i] === node || tried[i]!.address === node.address) return true;
  return false;
}

/**
 * May `node` be picked now? Weight 0 means drained. `health` is null on the second pass, when every
 * untried node is unhealthy and APISIX's rule "all unhealthy: use them all" applies.
 */
export function isEligible(node: UpstreamNode, tried: readonly UpstreamNode[], health: NodeHealthView | null): boolean {
  if (node.weight <= 0) return false;
  if (tried.length > 0 && wasTried(node, tried)) return false;
  if (health !== null && health.unhealthyCount > 0 && health.isUnhealthy(node)) return false;
  return true;
}

/**
 * The two-pass walk every balancer shares: priority groups highest first, healthy nodes only; when
 * nothing healthy is left anywhere, the same walk without the health filter. `pickIn` chooses inside
 * one group and returns undefined when no peer of that group is eligible.
 */
export function pickByGroups(
  groups: readonly Peer[][],
  tried: readonly UpstreamNode[],
  health: NodeHealthView | null | undefined,
  pickIn: (group: Peer[], index: number, tried: readonly UpstreamNode[], health: NodeHealthView | null) => Peer | undefined,
): Peer | undefined {
  const h = health !== undefined && health !== null && health.unhealthyCount > 0 ? health : null;
  for (let g = 0; g < groups.length; g++) {
    const peer = pickIn(groups[g]!, g, tried, h);
    if (peer !== undefined) return peer;
  }
  if (h === null) return undefined;
  for (let g = 0; g < groups.length; g++) {
    const peer = pickIn(groups[g]!, g, tried, null);
    if (peer !== undefined) return peer;
  }
  return undefined;
}
