// Node names -> addresses, pure: a node written as a DNS name becomes one node per address the name has now,
// each with the node's port, weight and priority and the name kept beside it; a name with no addresses yet
// stays as it is (the runtime resolves it per connection, as before any answer came).

import { formatHostPort, parseIp } from '../lib/ip';
import type { UpstreamNode } from '../snapshot/types';

/** A name's current addresses (src/dns/resolver.ts), or null when it has none yet. */
export type AddressesOf = (name: string) => readonly string[] | null;

/** The distinct DNS names among `nodes`' hosts, in order (empty for an upstream of addresses). */
export function namesIn(nodes: readonly UpstreamNode[]): string[] {
  const names: string[] = [];
  for (const n of nodes) if (parseIp(n.host) === null && !names.includes(n.host)) names.push(n.host);
  return names;
}

/** The nodes with every resolved name replaced by its addresses. */
export function expandNodes(nodes: readonly UpstreamNode[], addressesOf: AddressesOf): UpstreamNode[] {
  const out: UpstreamNode[] = [];
  for (const n of nodes) {
    const addresses = parseIp(n.host) === null ? addressesOf(n.host) : null;
    if (addresses === null || addresses.length === 0) {
      out.push(n);
      continue;
    }
    for (const host of addresses) {
      out.push({ host, port: n.port, weight: n.weight, priority: n.priority, address: formatHostPort(host, n.port), name: n.host });
    }
  }
  return out;
}
