// The TCP flow: the phases of a connection, in order, and nothing else.
//   accept -> prelude (PROXY header; TLS: ClientHello, terminate or pass through) -> match -> filters (access)
//   -> balance + connect (dial with retries) -> pipe -> filters (log) -> record
// Each phase lives in its own module; this one calls them in order and tracks what is open, for shutdown.

import type { TcpListenSpec } from '../../config/types';
import { formatHostPort } from '../../lib/ip';
import { isLogged, logger } from '../../log/logger';
import { RateLimitedWarn } from '../../log/rate-limit';
import type { InboundConn, OutboundConn, PipeCounts, PipeResult, PrereadCallback, TcpDataPlane } from '../../runtime/types';
import type { CompiledRoute, Snapshot, UpstreamNode } from '../../snapshot/types';
import type { DialFailure, DialPorts } from '../connect/dial';
import type { HealthView } from '../../health/types';
import type { FlowMetrics, LiveSource } from '../../metrics/types';
import { releaseNode } from '../connect/pick';
import { runAccess, runLog } from '../filter/chain';
import type { AccessVerdict } from '../filter/types';
import { selectRoute } from '../match/route';
import type { TrustCheck } from '../match/trust';
import { acceptProxyHeader, type ProxyPreludeOptions } from '../prelude/proxy-accept';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_PREREAD_TIMEOUT_MS, type TlsFlowOptions, type TlsMode, acceptTls, tlsModeOf, tlsPreread } from '../prelude/tls';
import type { AccessRecorder } from '../record/access';
import type { EndReason } from '../session/end-reason';
import { OpenSet } from '../session/open-set';
import { type PolicyReason, type RouteChange, type SessionPolicy, type SessionVerdict, SessionReaper, decideSession, describeVerdict } from '../session/policy';
import { type DialOutcome, type PrereadPort, TcpSession } from '../session/tcp-session';
import { WarnOnce } from './warn-once';

export interface TcpFlowOptions {
  plane: TcpDataPlane;
  /** The snapshot new connections use; read once per phase that needs it. */
  snapshot: () => Snapshot;
  /** The upstreams' running health checkers, beside the snapshot. */
  health: HealthView;
  recorder: AccessRecorder;
  /** TLS listeners: apisix.ssl.fallback_sni and the preread / handshake timeouts (defaults 30 s). */
  tls?: { fallbackSni: string | null; prereadTimeoutMs?: number; handshakeTimeoutMs?: number };
  /** proxy_protocol listeners: nginx_config.stream.real_ip_from compiled; null or absent: every peer is trusted. */
  trust?: TrustCheck | null;
  /** The metrics sink when the prometheus export server runs; absent or null: nothing is counted. */
  metrics?: FlowMetrics | null;
}

export class TcpFlow implements DialOutcome, PrereadPort, LiveSource {
  /** Connections with a route, from the connect phase (or filters) until their record is written. */
  private readonly active = new OpenSet<TcpSession>();
  /** Connections still in their prelude (PROXY header, ClientHello or TLS handshake): no route, no upstream yet. */
  private readonly preluding = new OpenSet<TcpSession>();
  /** Prelude refusals (handshakes, PROXY headers), one line per kind per period. */
  private readonly handshakeWarnings = new RateLimitedWarn();
  private readonly cannotForward = new WarnOnce<CompiledRoute>('route cannot forward; its connections are closed');
  private readonly tlsPrelude: TlsFlowOptions;
  /** What every dial of this flow uses: one object, so a connection carries no extra field for it. */
  private readonly ports: DialPorts;
  private readonly proxyPrelude: ProxyPreludeOptions;
  private metrics: FlowMetrics | null;
  /** Filled by pipeCounts() for each open connection during a scrape. */
  private readonly counts: PipeCounts = { bytesFromClient: 0, bytesToClient: 0, idleMs: 0 };
  /** Drains of session policies (route, node or listener changes): timers per change, none per connection. */
  private readonly reaper = new SessionReaper<TcpSession>(
    (s) => this.active.has(s) || this.preluding.has(s),
    (s, reason, note) => this.cut(s, reason, note),
  );

  constructor(private readonly opts: TcpFlowOptions) {
    this.ports = { plane: opts.plane, health: opts.health };
    this.metrics = opts.metrics ?? null;
    this.metrics?.addLiveSource(this);
    this.tlsPrelude = {
      plane: opts.plane,
      snapshot: opts.snapshot,
      fallbackSni: opts.tls?.fallbackSni ?? null,
      prereadTimeoutMs: opts.tls?.prereadTimeoutMs ?? DEFAULT_PREREAD_TIMEOUT_MS,
      handshakeTimeoutMs: opts.tls?.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      handshakeWarnings: this.handshakeWarnings,
      metrics: this.metrics,
      proceed: (s) => {
        // shutdown closed it and wrote its record already
        if (!this.preluding.delete(s)) return this.opts.plane.destroy(s.client);
        this.match(s, undefined);
      },
      reject: (s, end, error) => {
        this.opts.plane.destroy(s.client);
        if (!this.preluding.delete(s)) return;
        this.record(s, null, end, error);
      },
    };
    this.proxyPrelude = {
      plane: opts.plane,
      trust: opts.trust ?? null,
      prereadTimeoutMs: this.tlsPrelude.prereadTimeoutMs,
      warnings: this.handshakeWarnings,
      proceed: this.tlsPrelude.proceed,
      reject: this.tlsPrelude.reject,
    };
  }

  /** Config reload: TLS listeners use these for the next connections. */
  setTls(tls: { fallbackSni: string | null; prereadTimeoutMs?: number; handshakeTimeoutMs?: number }): void {
    this.tlsPrelude.fallbackSni = tls.fallbackSni;
    this.tlsPrelude.prereadTimeoutMs = tls.prereadTimeoutMs ?? DEFAULT_PREREAD_TIMEOUT_MS;
    this.tlsPrelude.handshakeTimeoutMs = tls.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  }

  /** A reload turned the metrics on or off, or renewed them: events from now on count there (or nowhere). */
  setMetrics(metrics: FlowMetrics | null): void {
    this.metrics = metrics;
    this.tlsPrelude.metrics = metrics;
    metrics?.addLiveSource(this);
  }

  /** Connections accepted and not yet finished (prelude, filters, dialling or piping). */
  openConnections(): number {
    return this.active.size + this.preluding.size;
  }

  /** Admin view: every open connection, those still in their prelude first. Allocates a list; not on any connection's path. */
  openSessions(): TcpSession[] {
    return [...this.preluding.snapshot(), ...this.active.snapshot()];
  }

  /** Bytes so far and idle time of a piped connection (null before its pipe starts). */
  pipeStats(s: TcpSession): PipeCounts | null {
    const into: PipeCounts = { bytesFromClient: 0, bytesToClient: 0, idleMs: 0 };
    return this.opts.plane.pipeCounts(s.client, into) ? into : null;
  }

  /** Is the connection still in its prelude (ClientHello preread or TLS handshake)? */
  inPrelude(s: TcpSession): boolean {
    return this.preluding.has(s);
  }

  /**
   * End one open connection on an admin's request; its access record says end "admin_closed". A piped connection
   * is cut and its pipe's end writes the record (with the bytes so far); earlier ones are recorded here, as
   * shutdown does. False when the connection is not open (any more).
   */
  closeByAdmin(s: TcpSession): boolean {
    if (!this.preluding.has(s) && !this.active.has(s)) return false;
    this.cut(s, 'admin_closed', 'closed through the Admin API');
    return true;
  }

  /** Accept phase, plain listener: straight to match. Per connection: one TcpSession, nothing else. */
  readonly accept = (client: InboundConn): void => {
    const now = Date.now();
    this.match(new TcpSession(this, client, now), now);
  };

  /** Accept phase, TLS listener: the prelude runs first. */
  acceptTls(client: InboundConn, mode: TlsMode): void {
    const s = new TcpSession(this, client, Date.now());
    this.preluding.add(s);
    acceptTls(this.tlsPrelude, mode, s);
  }

  /**
   * Accept phase, listener with PROXY protocol flags: the header first when the listener receives one, then
   * the TLS prelude (in the same preread) or the match phase; the session remembers whether to send one.
   */
  acceptProxied(client: InboundConn, spec: TcpListenSpec): void {
    const s = new TcpSession(this, client, Date.now());
    if (spec.proxyProtocolToUpstream) s.sendProxyHeader();
    const mode = tlsModeOf(spec);
    if (!spec.proxyProtocol && mode === null) return this.match(s, undefined);
    this.preluding.add(s);
    if (!spec.proxyProtocol) return acceptTls(this.tlsPrelude, mode!, s);
    acceptProxyHeader(this.proxyPrelude, s, mode === null ? null : tlsPreread(this.tlsPrelude, mode, s));
  }

  /** Match phase. `now`: Date.now() if read just before (the dial's start time), else undefined. */
  private match(s: TcpSession, now: number | undefined): void {
    const route = s.matched === undefined ? (s.matched = selectRoute(this.opts.snapshot(), s) ?? null) : s.matched;
    if (route === null) {
      this.opts.plane.destroy(s.client);
      if (isLogged('debug')) logger.debug('not hit any route', { client: formatHostPort(s.remoteAddr, s.remotePort), port: s.serverPort });
      if (this.metrics !== null) this.metrics.noRoute('tcp', s.serverAddr, s.serverPort);
      return this.record(s, null, 'no_route');
    }
    if (route.filters.access.length === 0) {
      if (route.upstream === null) return this.refuse(s, route);
      this.active.add(s);
      return s.dial(this.ports, route.upstream, now);
    }
    // a route without an upstream of its own may still get one from a filter (traffic-split)
    if (route.upstream === null && route.filters.setsUpstream !== true) return this.refuse(s, route);
    this.active.add(s);
    runAccess(route.filters, s, (verdict) => this.filtered(s, verdict));
  }

  /** The route cannot forward (no upstream, or a broken one): close at once. */
  private refuse(s: TcpSession, route: CompiledRoute): void {
    this.opts.plane.destroy(s.client);
    this.cannotForward.warn(route, { route: route.id, problem: route.problem ?? undefined });
    this.record(s, route, 'no_upstream', route.problem ?? undefined);
  }

  /** Filters phase over: reject, or go on to connect (to the upstream a filter chose, if one did). */
  private filtered(s: TcpSession, verdict: AccessVerdict): void {
    if (s.aborted) return; // shutdown wrote its record while the filters were deciding
    if (verdict !== undefined) {
      this.opts.plane.destroy(s.client);
      this.active.delete(s);
      s.route.filters.meter?.rejected(verdict.code);
      return this.finish(s, null, 0, 0, 'rejected', `${verdict.code} ${verdict.reason}`, verdict.code);
    }
    const upstream = s.chosenUpstream;
    if (upstream === null) {
      this.opts.plane.destroy(s.client);
      this.active.delete(s);
      const route = s.matched!;
      this.cannotForward.warn(route, { route: route.id, problem: route.problem ?? undefined });
      return this.finish(s, null, 0, 0, 'no_upstream', route.problem ?? 'missing upstream configuration in Route or Service');
    }
    s.dial(this.ports, upstream, undefined);
  }

  /** FilterConn.preread of a session (mqtt-proxy): the plane's preread, bounded by the listener's preread timeout. */
  prereadClient(s: TcpSession, maxBytes: number, cb: PrereadCallback): void {
    this.opts.plane.preread(s.client, maxBytes, this.tlsPrelude.prereadTimeoutMs, cb);
  }

  /** Connect phase over, connected: pipe. */
  onDialed(s: TcpSession, conn: OutboundConn): void {
    const { plane } = this.opts;
    if (s.aborted) {
      plane.destroy(conn);
      releaseNode(s.upstream!, s.current!);
      return;
    }
    s.upstreamConn = conn;
    plane.pipe(s.client, conn, s, this.piped);
  }

  /** Connect phase over, every attempt failed. */
  onDialFailed(s: TcpSession, err: DialFailure): void {
    if (s.aborted) return;
    if (err.attempts === 0) s.route.filters.meter?.connectFailed(null, 'no_node');
    this.opts.plane.destroy(s.client);
    this.active.delete(s);
    this.finish(s, err.node, 0, 0, 'connect_failed', err.message);
  }

  /** Pipe phase over; one callback shared by every connection (the pipe hands the session back). */
  private readonly piped = (r: PipeResult, s: TcpSession): void => {
    releaseNode(s.upstream!, s.current!); // least_conn/ewma stop counting this session
    this.active.delete(s);
    const x = s.extra; // weir cut it (an admin, a session policy): its reason, not the pipe's 'aborted'
    if (x !== null && x.endAs !== null) return this.finish(s, s.current, r.bytesFromClient, r.bytesToClient, x.endAs, x.endNote ?? undefined);
    this.finish(s, s.current, r.bytesFromClient, r.bytesToClient, r.reason, r.error);
  };

  /**
   * End one open connection on purpose (a session policy, an admin), recording `reason`: a piping one through
   * the pipe (its bytes counted), one still dialling or deciding in its filters at once, one still in its
   * prelude without a route.
   */
  private cut(s: TcpSession, reason: PolicyReason | 'admin_closed', note: string): void {
    if (!this.preluding.has(s) && !this.active.has(s)) return;
    this.metrics?.cut('tcp', reason);
    if (this.preluding.delete(s)) {
      this.opts.plane.destroy(s.client);
      return this.record(s, null, reason, note);
    }
    if (!this.active.has(s)) return;
    if (s.upstreamConn !== null) {
      s.endAs(reason, note);
      return this.opts.plane.destroy(s.client); // the pipe's done() writes the record
    }
    s.aborted = true;
    this.opts.plane.destroy(s.client);
    this.active.delete(s);
    this.finish(s, null, 0, 0, reason, note);
  }

  /**
   * After a snapshot swap: the open connections of routes that changed follow their route's policy
   * (src/proxy/session/policy.ts); on_node_removed by the upstream each one went through (the route's, or the
   * one traffic-split chose) and its node. Runs per change, never per connection; `changes` holds only routes with
   * a policy other than keep, so usually it is empty and this returns at once.
   */
  applyRouteChanges(changes: readonly RouteChange[]): void {
    if (changes.length === 0) return;
    const byRoute = new Map<string, RouteChange>();
    for (const c of changes) byRoute.set(c.routeId, c);
    const verdicts: Array<[TcpSession, SessionVerdict]> = [];
    for (const s of this.active.snapshot()) {
      const change = s.matched ? byRoute.get(s.matched.id) : undefined;
      if (change === undefined) continue;
      const v = decideSession(change, s.upstream === null ? null : s.upstream.key, s.current === null ? null : s.current.address);
      if (v !== null) verdicts.push([s, v]);
    }
    this.reaper.apply(verdicts, (s, v) => describeVerdict(`route ${s.matched!.id}`, v));
  }

  /**
   * A listener stopped accepting (deleted, moved, or rebound): its open connections follow its `on_change`.
   * They are found by their local address (the listener's port, and its host unless it is a wildcard), so
   * connections carry nothing for this.
   */
  endListener(host: string, port: number, policy: SessionPolicy | null, origin: string): void {
    if (policy === null) return;
    const any = host === '0.0.0.0' || host === '::';
    const verdict: SessionVerdict = { policy, reason: 'listener_removed' };
    const verdicts: Array<[TcpSession, SessionVerdict]> = [];
    for (const set of [this.preluding, this.active]) {
      for (const s of set.snapshot()) {
        if (s.client.localPort === port && (any || s.client.localAddress === host)) verdicts.push([s, verdict]);
      }
    }
    this.reaper.apply(verdicts, (_s, v) => describeVerdict(`listener ${origin}`, v));
  }

  /** Filters (log) and record phases of a connection that had a route. `code`: the rejecting filter's. */
  private finish(s: TcpSession, node: UpstreamNode | null, fromClient: number, toClient: number, end: EndReason, error?: string, code?: number): void {
    const route = s.matched!;
    const filters = route.filters;
    if (filters.log.length !== 0) {
      runLog(filters, { conn: s, info: s, route, node, startedAt: s.startedAt, bytesFromClient: fromClient, bytesToClient: toClient, end, error, code, vars: s.vars });
    }
    if (filters.meter != null) filters.meter.finished(node, fromClient, toClient);
    this.opts.recorder.connection(s, route, node, s.startedAt, fromClient, toClient, end, error);
  }

  /** Record phase of a connection that ended before any filter ran (prelude or match). */
  private record(s: TcpSession, route: CompiledRoute | null, end: EndReason, error?: string): void {
    if (route !== null) route.filters.meter?.finished(null, 0, 0);
    this.opts.recorder.connection(s, route, null, s.startedAt, 0, 0, end, error);
  }

  /** LiveSource: open connections into their routes' meters, with the bytes their pipes moved so far. */
  addLive(): void {
    const { plane } = this.opts;
    const counts = this.counts;
    this.active.forEach((s) => {
      const meter = s.matched!.filters.meter;
      if (meter == null) return;
      meter.liveConnections++;
      if (s.upstreamConn === null || s.current === null || !plane.pipeCounts(s.client, counts)) return;
      const node = meter.node(s.current);
      node.liveIn += counts.bytesFromClient;
      node.liveOut += counts.bytesToClient;
    });
  }

  /**
   * Shutdown, after the listeners stopped: connections still in their prelude are closed at once (they have
   * no route and no upstream, so closing them loses nothing, and a client stalling its handshake must not
   * hold the grace period open); the others get `graceMs` to finish, then are cut.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.reaper.stop();
    for (const s of this.preluding.snapshot()) {
      this.preluding.delete(s);
      this.opts.plane.destroy(s.client);
      this.record(s, null, 'aborted', s.extra === null ? 'shutdown during ClientHello preread or TLS handshake' : 'shutdown during PROXY header, ClientHello preread or TLS handshake');
    }
    await this.active.waitEmpty(graceMs);
    for (const s of this.active.snapshot()) {
      if (s.upstreamConn !== null) {
        this.opts.plane.destroy(s.client); // running pipe: its done() writes the 'aborted' record
      } else {
        s.aborted = true;
        this.opts.plane.destroy(s.client);
        this.active.delete(s);
        this.finish(s, null, 0, 0, 'aborted', 'shutdown while connecting upstream');
      }
    }
    // aborted pipes report on their close events; a bounded wait keeps shutdown from hanging
    await this.active.waitEmpty(2000);
    this.handshakeWarnings.close();
  }
}
