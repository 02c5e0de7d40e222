// Balancer factory: maps an upstream's `type` to an implementation, once per compiled upstream.

import type { UpstreamNode } from '../../snapshot/types';
import { createRoundRobin } from './roundrobin';
import type { Balancer } from './types';

/** The type names APISIX knows (spec 3.2: the schema has no enum, unknown names fail at runtime). */
export const BALANCER_TYPES: readonly string[] = ['roundrobin', 'chash', 'least_conn', 'ewma'];

/** Types still served by roundrobin. TODO(balancers issue): chash, least_conn, ewma. */
const NOT_YET = new Set(['chash', 'least_conn', 'ewma']);

/**
 * What the snapshot build should report about a type: null when it is served as asked, a note when it
 * falls back to roundrobin. Unknown types are the caller's problem (check BALANCER_TYPES first).
 */
export function balancerNote(type: string): string | null {
  return NOT_YET.has(type) ? `balancer ${type} is not implemented yet; using roundrobin` : null;
}

/** Build the balancer for one compiled upstream. Runs at snapshot build, never per connection. */
export function createBalancer(type: string, nodes: readonly UpstreamNode[]): Balancer {
  void type; // every type is roundrobin for now; see balancerNote
  return createRoundRobin(nodes);
}
