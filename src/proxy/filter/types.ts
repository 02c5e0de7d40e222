// The filter seam: a route's ordered chain of stream filters (APISIX stream plugins, issue 13), compiled
// into the snapshot. Filters run after the route matched and before a node is picked (access), and once the
// connection or UDP session is over (log). A route without filters carries NO_FILTERS and pays one length check.

import type { PrereadCallback } from '../../runtime/types';
import type { CompiledRoute, ConnInfo, UpstreamNode } from '../../snapshot/types';
import type { RouteMeter } from '../../metrics/route-meter';
import type { EndReason } from '../session/end-reason';

/** The connection as a filter sees it in the access phase. */
export interface FilterConn {
  readonly info: ConnInfo;
  readonly route: CompiledRoute;
  /** A variable an earlier filter of this connection set, or undefined. */
  getVar(name: string): string | undefined;
  /** Set a variable for the filters after this one, the balancer (a chash `key` naming it) and the log phase. */
  setVar(name: string, value: string): void;
  /**
   * Look at the client's first bytes without consuming them (the data plane's preread, bounded by the
   * listener's preread timeout, nginx's preread_timeout): the bytes stay queued and reach the upstream first.
   * TCP only (absent on UDP sessions); at most one running at a time per connection.
   */
  preread?(maxBytes: number, cb: PrereadCallback): void;
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
  /** The code of the filter that refused the connection (end "rejected"), else undefined. */
  readonly code?: number;
  /** Variables the access phase set (mqtt_client_id), or null. */
  readonly vars?: ReadonlyMap<string, string> | null;
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
  /** The prometheus plugin's route counters: the chain carries them (FilterChain.meter); no phase runs for this. */
  readonly meter?: RouteMeter;
}

/** A route's filters, split by phase and sorted by priority once, when the snapshot is built. */
export interface FilterChain {
  readonly access: readonly StreamFilter[];
  readonly log: readonly StreamFilter[];
  /**
   * The route's counters when it carries the prometheus plugin (src/metrics/route-meter.ts), else null or
   * absent: the flows count a route's connections, bytes and connect attempts only through this.
   */
  readonly meter?: RouteMeter | null;
}

/** The chain of every route without filters: shared, never written. */
export const NO_FILTERS: FilterChain = Object.freeze({ access: Object.freeze([]), log: Object.freeze([]), meter: null });
