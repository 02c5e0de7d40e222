// Balancer factory: maps an upstream's `type` to an implementation, once per compiled upstream.

import type { UpstreamNode } from '../../snapshot/types';
import { createChash } from './chash';
import { createEwma } from './ewma';
import { createLeastConn } from './least-conn';
import { createRoundRobin } from './roundrobin';
import type { Balancer, BalancerOptions } from './types';

/** The type names APISIX knows (spec 3.2: the schema has no enum, unknown names fail at runtime). */
export const BALANCER_TYPES: readonly string[] = ['roundrobin', 'chash', 'least_conn', 'ewma'];

/**
 * What the snapshot build should report about a type: null when it is served as asked. Every known
 * type is implemented now; kept so the build's contract (a note per fallback) stays in one place.
 */
export function balancerNote(type: string): string | null {
  return BALANCER_TYPES.includes(type) ? null : `unknown balancer ${type}; using roundrobin`;
}

/**
 * Build the balancer for one compiled upstream. Runs at snapshot build, never per connection.
 * `opts.prev` (the same upstream's previous balancer) hands over per-node state for unchanged nodes.
 */
export function createBalancer(type: string, nodes: readonly UpstreamNode[], opts: BalancerOptions = {}): Balancer {
  switch (type) {
    case 'chash': return createChash(nodes, opts);
    case 'least_conn': return createLeastConn(nodes, opts);
    case 'ewma': return createEwma(nodes, opts);
    default: return createRoundRobin(nodes, opts);
  }
}
