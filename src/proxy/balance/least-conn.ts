// least_conn: the node with the lowest (active + 1) / weight wins; counts every picked connection
// until it is released (failed connect or session end), as APISIX's least_conn does.

import type { UpstreamNode } from '../../snapshot/types';
import { ScoredBalancer } from './scored';
import type { Peer } from './state';
import type { Balancer, BalancerOptions } from './types';

export class LeastConnBalancer extends ScoredBalancer {
  // Division is correctly rounded, so equal ratios (1/3, 2/6) tie exactly and, for integer weights and
  // counts below 2^26, distinct ratios keep their order; huge weights are approximate either way.
  protected override score(peer: Peer): number {
    return (peer.state.active + 1) / peer.node.weight;
  }
}

export function createLeastConn(nodes: readonly UpstreamNode[], opts?: BalancerOptions): Balancer {
  return new LeastConnBalancer(nodes, opts);
}
