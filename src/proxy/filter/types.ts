// The filter seam: a route's ordered chain of stream filters (the compiled APISIX stream plugins, src/plugins/),
// part of the snapshot. Filters run after the route matched and before a node is picked (access), and once the
// connection or UDP session is over (log). A route without filters carries NO_FILTERS and pays one length check.

import type { PipeThrottle, PrereadCallback } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo, UpstreamNode } from '../../snapshot/types';
import type { RouteMeter } from '../../metrics/route-meter';
import type { EndReason } from '../session/end-reason';

/**
 * The connection as a filter sees it: what is known about it, and what a filter may change for the phases
 * after it. Implemented by the TCP session and the UDP session themselves (no object per filter call); the
 * setters keep their values behind one lazily made field, so a connection without filters carries nothing.
 */
export interface FilterConn {
  readonly info: ConnInfo;
  readonly route: CompiledRoute;
  /** Shutdown (or, for UDP, eviction) ended it while its filters were deciding: a late verdict is ignored. */
  readonly aborted: boolean;
  /** A variable an earlier filter set (e.g. mqtt_client_id), or undefined. */
  getVar(name: string): string | undefined;
  /** Set a variable for the filters after this one, the balancer (a chash `key` naming it) and the log phase. */
  setVar(name: string, value: string): void;
  /** Connect to this upstream instead of the route's (traffic-split). Read once the access phase is over. */
  setUpstream(upstream: CompiledUpstream): void;
  /** Rate limits (limit-bandwidth): a TCP pipe stops reading a side while it is over its rate; UDP drops datagrams. */
  setThrottle(throttle: ConnThrottle): void;
  /** A filter's own state for this connection, by filter name (limit-conn: the counter key to release in log). */
  getState(filter: string): unknown;
  setState(filter: string, value: unknown): void;
  /**
   * Look at the client's first bytes without consuming them (the data plane's preread, bounded by the
   * listener's preread timeout, nginx's preread_timeout): the bytes stay queued and reach the upstream first.
   * TCP only (absent on UDP sessions); on a terminating TLS listener it reads the decrypted bytes after the
   * ClientHello. At most one running at a time per connection.
   */
  preread?(maxBytes: number, cb: PrereadCallback): void;
}

/** limit-bandwidth's limits for one connection: the TCP pipe's throttle, and per-datagram policing for UDP. */
export interface ConnThrottle extends PipeThrottle {
  /** May a datagram of `bytes` go now, `upload` (client to upstream) or back? Takes its tokens when it may. */
  admit(upload: boolean, bytes: number): boolean;
}

/** An access verdict that ends the connection here: `code` is APISIX's status for the log (403, 503). */
export interface Rejection {
  readonly code: number;
  readonly reason: string;
}

/** undefined: go on to the next filter. A promise: decide later (a delay, bytes still to come). */
export type AccessVerdict = undefined | Rejection;

/** What the log phase reports: the same facts as the access record, and the connection the filters saw. */
export interface FinishedConn {
  readonly conn: FilterConn;
  readonly info: ConnInfo;
  readonly route: CompiledRoute;
  readonly node: UpstreamNode | null;
  readonly startedAt: number;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly end: EndReason;
  /** The access record's error text (the socket error, the rejection's "<code> <reason>"), if any. */
  readonly error?: string;
  /** The code of the filter that refused the connection (end "rejected"), else undefined. */
  readonly code?: number;
  /** Variables the access phase set (mqtt_client_id), or null. */
  readonly vars?: ReadonlyMap<string, string> | null;
}

/** What variable readers need of a connection (src/plugins/vars.ts): an open one, or one explain describes. */
export type VarSource = Pick<FilterConn, 'info' | 'getVar'>;

/**
 * What explain hands a filter: the facts of a connection that is not open. Nothing can be set, and getVar
 * answers only what explain was told (no filter ran before, so mqtt_client_id and the like are unset).
 */
export type ExplainedConn = Pick<FilterConn, 'info' | 'route' | 'getVar'>;

/** What a filter would decide for a connection, asked by explain: `unknown` when it cannot tell without running. */
export interface FilterExplanation {
  readonly admits: boolean | 'unknown';
  readonly reason: string;
  /** The facts behind the answer (the count and the limit, the rule that matched), shown beside it. */
  readonly facts?: Readonly<Record<string, string | number | boolean | null>>;
  /** The upstream it would connect to instead of the route's (traffic-split); absent: the route's. */
  readonly upstream?: CompiledUpstream;
}

export interface StreamFilter {
  /** APISIX's plugin name, e.g. "ip-restriction". */
  readonly name: string;
  /** APISIX's priority: higher runs first. */
  readonly priority: number;
  /** It may call setUpstream() (traffic-split). */
  readonly setsUpstream?: boolean;
  /** Runs once per connection (TCP) or session (UDP), after match. A throw is a 500 rejection. */
  access?(conn: FilterConn): AccessVerdict | Promise<AccessVerdict>;
  /**
   * Runs once the connection or session has ended, before its access record, also when a filter rejected it
   * (or shutdown cut it) while filters were deciding: a filter that took something in access gives it back here.
   */
  log?(done: FinishedConn): void;
  /**
   * Would access() admit this connection now? Asked by explain, never on a connection's path; must have no side
   * effects (no counting, no token taken). Filters without it are reported as "unknown".
   */
  explain?(conn: ExplainedConn): FilterExplanation;
  /** The prometheus plugin's route counters: the chain carries them (FilterChain.meter); no phase runs for this. */
  readonly meter?: RouteMeter;
  /** Upstreams it may connect to instead of the route's (traffic-split): their nodes' metrics stay while it is served. */
  readonly upstreams?: readonly CompiledUpstream[];
  /**
   * Runs once, when no new connection can reach the filter any more: a snapshot without its chain serves (the
   * route changed or went away), or weir is stopping. Connections that started before may still run log()
   * after it, and must still be served. Give back what the filter holds (sockets, queued entries); a promise
   * settles once that is done (the syslog queue sent), and the caller bounds how long it waits. Must not throw.
   */
  dispose?(): void | Promise<void>;
}

/** A route's filters, split by phase and sorted by priority once, when the snapshot is built. */
export interface FilterChain {
  readonly access: readonly StreamFilter[];
  readonly log: readonly StreamFilter[];
  /** Some filter may choose the upstream (traffic-split): a route without one of its own can still forward. */
  readonly setsUpstream?: boolean;
  /**
   * The route's counters when it carries the prometheus plugin (src/metrics/route-meter.ts), else null or
   * absent: the flows count a route's connections, bytes and connect attempts only through this.
   */
  readonly meter?: RouteMeter | null;
  /** Upstreams its filters may connect to instead of the route's (StreamFilter.upstreams), or absent. */
  readonly upstreams?: readonly CompiledUpstream[];
  /** Filters with a dispose hook (run when the chain stops being served), or absent. */
  readonly disposable?: readonly StreamFilter[];
}

/** The chain of every route without filters: shared, never written. */
export const NO_FILTERS: FilterChain = Object.freeze({ access: Object.freeze([]), log: Object.freeze([]), meter: null });
