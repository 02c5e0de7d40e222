// The metrics seam of the data plane: the one sink the TCP and UDP flows (and the TLS prelude) report to when
// the prometheus export server runs. Per-route counting goes through the route's own counters instead
// (FilterChain.meter, src/metrics/route-meter.ts), so a flow without this sink, or a route without the
// prometheus plugin, pays a null check and nothing else.

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
}
