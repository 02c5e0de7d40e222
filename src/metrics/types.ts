// The metrics seams. FlowMetrics is the one sink the TCP and UDP flows (and the TLS prelude) report to when
// the prometheus export server runs. Per-route counting goes through the route's own counters instead
// (FilterChain.meter, src/metrics/route-meter.ts), so a flow without this sink, or a route without the
// prometheus plugin, pays a null check and nothing else. PluginMetrics is what plugins get when they compile.

import type { RouteMeter } from './route-meter';

/** A route a snapshot serves, as the metrics see it (src/plugins/compile.ts afterSwap hands them over). */
export interface ServedRoute {
  readonly id: string;
  /** Its prometheus counters, or null. */
  readonly meter: RouteMeter | null;
  /** Where it may connect: its own upstream and those its filters may choose (traffic-split); null entries skipped. */
  readonly upstreams: ReadonlyArray<{ readonly nodes: ReadonlyArray<{ readonly address: string }> } | null>;
}

/** Something holding open connections whose counts a scrape adds up (the TCP and UDP flows). */
export interface LiveSource {
  /**
   * Add every open connection (session) to its route's meter: `liveConnections` / `liveSessions` and its
   * node's `liveIn` / `liveOut`. Runs once per scrape; must not allocate per connection.
   */
  addLive(): void;
}

/** What the flows report that belongs to no route. Implemented by StreamMetrics (src/metrics/stream-metrics.ts). */
export interface FlowMetrics {
  /** A connection (TCP) or a new client's datagram (UDP) matched no route, on the listener at addr:port. */
  noRoute(protocol: 'tcp' | 'udp', addr: string, port: number): void;
  /** A TLS listener gave up on a client before any route: no_sni, unknown_sni, timeout, client_cert, handshake, not_tls, preread_timeout. */
  tlsFailed(reason: string, addr: string, port: number): void;
  /** Called once by each flow when it is made. */
  addLiveSource(source: LiveSource): void;
  /** Called once by the UDP flow: its refused new sessions by reason, read at scrape time (nothing per event). */
  addUdpRefusals(source: RefusalSource): void;
  /** Called once by the TCP proxy: connections its caps refused at accept, by reason, read at scrape time. */
  addTcpRefusals(source: RefusalSource): void;
  /** [weir] weir ended an open connection (TCP) or session (UDP) on purpose: a session policy, or the Admin API. */
  cut(protocol: 'tcp' | 'udp', reason: CutReason): void;
}

/** Refusals a flow counts itself, by reason; the scrape reads them. */
export interface RefusalSource {
  refused(): Readonly<Record<string, number>>;
}

/** Why weir ended a connection on purpose (the access line's `end`; src/proxy/session/end-reason.ts). */
export type CutReason = 'route_changed' | 'route_deleted' | 'node_removed' | 'listener_removed' | 'admin_closed';

/** A counter cell a plugin holds and bumps in place (e.g. the syslog entries it had to drop). */
export interface CounterCell {
  value: number;
}

/** What plugins get from the metrics when they compile (PluginCompileContext.metrics). */
export interface PluginMetrics {
  /**
   * The counters of the route labelled `label` (its id, or its name with prefer_name): the same object for
   * the same label across snapshots, so a changed route keeps counting. Called at compile time only.
   */
  routeMeter(label: string): RouteMeter;
  /** The dropped-entries counter of a logger plugin on a route (weir_stream_log_dropped_total{plugin, route}). */
  logDropped(plugin: string, routeLabel: string): CounterCell;
  /**
   * A snapshot serving `routes` (every route with plugins) has been swapped in: forget the series of routes and
   * nodes it no longer serves, keep the counts of the others. Runs once per swap, never per connection.
   */
  retain(routes: readonly ServedRoute[]): void;
}
