// An upstream's DNS names expanded again after their addresses changed: the same compiled upstream with the
// new node list and a balancer built for it, which adopts the per-node state of addresses that stay.
// Runs when src/dns/resolver.ts reports a change, off the connection path; pure apart from the balancer.

import { createBalancer } from '../proxy/balance/index';
import { type AddressesOf, expandNodes } from '../dns/expand';
import type { CompiledUpstream, UpstreamNode } from './types';

function sameNodes(a: readonly UpstreamNode[], b: readonly UpstreamNode[]): boolean {
  return a.length === b.length && a.every((n, i) => n.address === b[i]!.address && n.name === b[i]!.name);
}

/** Whether `up` names hosts whose current addresses are not the ones its nodes hold (nothing is built). */
export function isResolvedAgain(up: CompiledUpstream, addressesOf: AddressesOf): boolean {
  return up.named !== undefined && !sameNodes(expandNodes(up.named.declared, addressesOf), up.nodes);
}

/** `up` with its names expanded to their current addresses, or null when that changes nothing. */
export function reexpandUpstream(up: CompiledUpstream, addressesOf: AddressesOf): CompiledUpstream | null {
  const named = up.named;
  if (named === undefined) return null;
  const nodes = expandNodes(named.declared, addressesOf);
  if (sameNodes(nodes, up.nodes)) return null;
  const balancer = createBalancer(named.type, nodes, { prev: up.balancer, hashOn: named.hashOn, key: named.key });
  return { ...up, nodes, balancer, retries: named.retries ?? nodes.length - 1 };
}
