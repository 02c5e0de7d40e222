// The TCP flow: the phases of a connection, in order, and nothing else.
//   accept -> prelude (TLS: ClientHello, terminate or pass through) -> match -> filters (access)
//   -> balance + connect (dial with retries) -> pipe -> filters (log) -> record
// Each phase lives in its own module; this one calls them in order and tracks what is open, for shutdown.

import { formatHostPort } from '../../lib/ip';
import { isLogged, logger } from '../../log/logger';
import { RateLimitedWarn } from '../../log/rate-limit';
import type { InboundConn, OutboundConn, PipeResult, TcpDataPlane } from '../../runtime/types';
import type { CompiledRoute, Snapshot, UpstreamNode } from '../../snapshot/types';
import type { DialFailure } from '../connect/dial';
import { releaseNode } from '../connect/pick';
import { runAccess, runLog } from '../filter/chain';
import type { AccessVerdict } from '../filter/types';
import { selectRoute } from '../match/route';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_PREREAD_TIMEOUT_MS, type TlsFlowOptions, type TlsMode, acceptTls } from '../prelude/tls';
import type { AccessRecorder } from '../record/access';
import type { EndReason } from '../session/end-reason';
import { OpenSet } from '../session/open-set';
import { type DialOutcome, TcpSession } from '../session/tcp-session';
import { WarnOnce } from './warn-once';

export interface TcpFlowOptions {
  plane: TcpDataPlane;
  /** The snapshot new connections use; read once per phase that needs it. */
  snapshot: () => Snapshot;
  recorder: AccessRecorder;
  /** TLS listeners: apisix.ssl.fallback_sni and the preread / handshake timeouts (defaults 30 s). */
  tls?: { fallbackSni: string | null; prereadTimeoutMs?: number; handshakeTimeoutMs?: number };
}

export class TcpFlow implements DialOutcome {
  /** Connections with a route, from the connect phase (or filters) until their record is written. */
  private readonly active = new OpenSet<TcpSession>();
  /** Connections still in their prelude (ClientHello preread or TLS handshake): no route, no upstream yet. */
  private readonly preluding = new OpenSet<TcpSession>();
  private readonly handshakeWarnings = new RateLimitedWarn();
  private readonly cannotForward = new WarnOnce<CompiledRoute>('route cannot forward; its connections are closed');
  private readonly tlsPrelude: TlsFlowOptions;

  /** DialOutcome: the plane a filter's preread of the client goes through. */
  readonly plane: TcpDataPlane;

  constructor(private readonly opts: TcpFlowOptions) {
    this.plane = opts.plane;
    this.tlsPrelude = {
      plane: opts.plane,
      snapshot: opts.snapshot,
      fallbackSni: opts.tls?.fallbackSni ?? null,
      prereadTimeoutMs: opts.tls?.prereadTimeoutMs ?? DEFAULT_PREREAD_TIMEOUT_MS,
      handshakeTimeoutMs: opts.tls?.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      handshakeWarnings: this.handshakeWarnings,
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
      return this.record(s, null, 'no_route');
    }
    if (route.filters.access.length === 0) {
      if (route.upstream === null) return this.refuse(s, route);
      this.active.add(s);
      return s.dial(this.opts.plane, route.upstream, now);
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
      return this.finish(s, null, 0, 0, 'rejected', `${verdict.code} ${verdict.reason}`);
    }
    const upstream = s.chosenUpstream;
    if (upstream === null) {
      this.opts.plane.destroy(s.client);
      this.active.delete(s);
      const route = s.matched!;
      this.cannotForward.warn(route, { route: route.id, problem: route.problem ?? undefined });
      return this.finish(s, null, 0, 0, 'no_upstream', route.problem ?? 'missing upstream configuration in Route or Service');
    }
    s.dial(this.opts.plane, upstream, undefined);
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

  /** Filters (log) and record phases of a connection that had a route. */
  private finish(s: TcpSession, node: UpstreamNode | null, fromClient: number, toClient: number, end: EndReason, error?: string): void {
    const route = s.matched!;
    if (route.filters.log.length !== 0) {
      runLog(route.filters, { conn: s, info: s, route, node, startedAt: s.startedAt, bytesFromClient: fromClient, bytesToClient: toClient, end, error });
    }
    this.opts.recorder.connection(s, route, node, s.startedAt, fromClient, toClient, end, error);
  }

  /** Record phase of a connection that ended before any filter ran (prelude or match). */
  private record(s: TcpSession, route: CompiledRoute | null, end: EndReason, error?: string): void {
    this.opts.recorder.connection(s, route, null, s.startedAt, 0, 0, end, error);
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
