// The filter seam: a route's ordered chain of stream filters (APISIX stream plugins, issue 13), compiled
// into the snapshot. Filters run after the route matched and before a node is picked (access), and once the
// connection or UDP session is over (log). A route without filters carries NO_FILTERS and pays one length check.

import type { CompiledRoute, ConnInfo, UpstreamNode } from '../../snapshot/types';
import type { EndReason } from '../session/end-reason';

/** The connection as a filter sees it in the access phase. */
export interface FilterConn {
  readonly info: ConnInfo;
  readonly route: CompiledRoute;
}

/** An access verdict that ends the connection here: `code` is APISIX's status for the log (403, 503). */
export interface Rejection {
  readonly code: number;
  readonly reason: string;
}

/** undefined: go on to the next filter. A promise: decide later (a delay, bytes still to come). */
export type AccessVerdict = undefined | Rejection;

/** What the log phase reports: the same facts as the access record. */
export interface FinishedConn {
  readonly info: ConnInfo;
  readonly route: CompiledRoute;
  readonly node: UpstreamNode | null;
  readonly startedAt: number;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly end: EndReason;
}

/** What a filter would decide for a connection, asked by explain: `unknown` when it cannot tell without running. */
export interface FilterExplanation {
  readonly admits: boolean | 'unknown';
  readonly reason: string;
}

export interface StreamFilter {
  /** APISIX's plugin name, e.g. "ip-restriction". */
  readonly name: string;
  /** APISIX's priority: higher runs first. */
  readonly priority: number;
  /** Runs once per connection (TCP) or session (UDP), after match. Must not throw. */
  access?(conn: FilterConn): AccessVerdict | Promise<AccessVerdict>;
  /** Runs once the connection or session has ended, before its access record. Must not throw. */
  log?(done: FinishedConn): void;
  /**
   * Would access() admit this connection now? Asked by explain, never on a connection's path; must have no side
   * effects (no counting, no token taken). Filters without it are reported as "unknown".
   */
  explain?(conn: FilterConn): FilterExplanation;
}

/** A route's filters, split by phase and sorted by priority once, when the snapshot is built. */
export interface FilterChain {
  readonly access: readonly StreamFilter[];
  readonly log: readonly StreamFilter[];
}

/** The chain of every route without filters: shared, never written. */
export const NO_FILTERS: FilterChain = Object.freeze({ access: Object.freeze([]), log: Object.freeze([]) });
