// The TCP flow: the phases of a connection, in order, and nothing else.
//   accept -> prelude (TLS: ClientHello, terminate or pass through) -> match -> filters (access)
//   -> balance + connect (dial with retries) -> pipe -> filters (log) -> record
// Each phase lives in its own module; this one calls them in order and tracks what is open, for shutdown.

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
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_PREREAD_TIMEOUT_MS, type TlsFlowOptions, type TlsMode, acceptTls } from '../prelude/tls';
import type { AccessRecorder } from '../record/access';
import type { EndReason } from '../session/end-reason';
import { OpenSet } from '../session/open-set';
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
  /** The metrics sink when the prometheus export server runs; absent or null: nothing is counted. */
  metrics?: FlowMetrics | null;
}

export class TcpFlow implements DialOutcome, PrereadPort, LiveSource {
  /** Connections with a route, from the connect phase (or filters) until their record is written. */
  private readonly active = new OpenSet<TcpSession>();
  /** Connections still in their prelude (ClientHello preread or TLS handshake): no route, no upstream yet. */
  private readonly preluding = new OpenSet<TcpSession>();
  private readonly handshakeWarnings = new RateLimitedWarn();
  private readonly cannotForward = new WarnOnce<CompiledRoute>('route cannot forward; its connections are closed');
  private readonly tlsPrelude: TlsFlowOptions;
  /** What every dial of this flow uses: one object, so a connection carries no extra field for it. */
  private readonly ports: DialPorts;
  private readonly metrics: FlowMetrics | null;
  /** Filled by pipeCounts() for each open connection during a scrape. */
  private readonly counts: PipeCounts = { bytesFromClient: 0, bytesToClient: 0 };

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
  }

  /** Connections accepted and not yet finished (prelude, filters, dialling or piping). */
  openConnections(): number {
    return this.active.size + this.preluding.size;
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

  /** Match phase. `now`: Date.now() if read just before (the dial's start time), else undefined. */
  private match(s: TcpSession, now: number | undefined): void {
    const route = s.matched === undefined ? (s.matched = selectRoute(this.opts.snapshot(), s) ?? null) : s.matched;
    if (route === null) {
      this.opts.plane.destroy(s.client);
      if (isLogged('debug')) logger.debug('not hit any route', { client: formatHostPort(s.remoteAddr, s.remotePort), port: s.serverPort });
      if (this.metrics !== null) this.metrics.noRoute('tcp', s.serverAddr, s.serverPort);
      return this.record(s, null, 'no_route');
    }
    if (route.upstream === null) {
      this.opts.plane.destroy(s.client);
      this.cannotForward.warn(route, { route: route.id, problem: route.problem ?? undefined });
      return this.record(s, route, 'no_upstream', route.problem ?? undefined);
    }
    this.active.add(s);
    if (route.filters.access.length === 0) return s.dial(this.ports, route.upstream, now);
    runAccess(route.filters, s, (verdict) => this.filtered(s, verdict));
  }

  /** Filters phase over: reject, or go on to connect. */
  private filtered(s: TcpSession, verdict: AccessVerdict): void {
    if (s.aborted) return; // shutdown wrote its record while the filters were deciding
    if (verdict !== undefined) {
      this.opts.plane.destroy(s.client);
      this.active.delete(s);
      s.route.filters.meter?.rejected(verdict.code);
      return this.finish(s, null, 0, 0, 'rejected', `${verdict.code} ${verdict.reason}`, verdict.code);
    }
    s.dial(this.ports, s.route.upstream!, undefined);
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
    this.finish(s, s.current, r.bytesFromClient, r.bytesToClient, r.reason, r.error);
  };

  /** Filters (log) and record phases of a connection that had a route. `code`: the rejecting filter's. */
  private finish(s: TcpSession, node: UpstreamNode | null, fromClient: number, toClient: number, end: EndReason, error?: string, code?: number): void {
    const route = s.matched!;
    const filters = route.filters;
    if (filters.log.length !== 0) {
      runLog(filters, { info: s, route, node, startedAt: s.startedAt, bytesFromClient: fromClient, bytesToClient: toClient, end, code, vars: s.vars });
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
    for (const s of this.preluding.snapshot()) {
      this.preluding.delete(s);
      this.opts.plane.destroy(s.client);
      this.record(s, null, 'aborted', 'shutdown during ClientHello preread or TLS handshake');
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
