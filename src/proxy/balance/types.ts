// The one interface every load balancer implements. Picks are pure with respect to the network.

import type { ConnInfo, UpstreamNode } from '../../snapshot/types';

export interface Balancer {
  /**
   * Choose a node for a new connection, skipping the nodes in `tried` (earlier failed attempts of the
   * same connection). Returns undefined when no node is left. Runs once per attempt: no allocation-heavy work.
   */
  pick(conn: ConnInfo, tried: readonly UpstreamNode[]): UpstreamNode | undefined;
}
