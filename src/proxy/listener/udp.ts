// The UDP proxy flow: datagram from a new client -> select route -> pick node -> one upstream socket per
// session -> relay both ways (replies leave from the listener's socket) -> access record when it ends.

import type { UdpListenSpec } from '../../config/types';
import { formatHostPort } from '../../lib/ip';
import { listenError } from '../../lib/listen-error';
import { type AccessLog, isLogged, logger } from '../../log/logger';
import type { UdpDataPlane, UdpListener, UdpSocketError, UdpUpstreamHandlers } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo, Snapshot, UpstreamNode } from '../../snapshot/types';
import { selectRoute } from '../match/route';
import { type SessionEnd, Session, sessionRecord } from '../udp/session';
import { SessionTable } from '../udp/sessions';
import { type HealthView, NO_HEALTH } from '../../health/types';

export interface UdpProxyOptions {
  plane: UdpDataPlane;
  listeners: UdpListenSpec[];
  /** The snapshot new sessions use; read once per new session. */
  snapshot: () => Snapshot;
  /** The upstreams' running health checkers, beside the snapshot (default: none). */
  health?: HealthView;
  accessLog: AccessLog;
  /** Bound of the session table (nginx_config.stream.udp_max_sessions). */
  maxSessions: number;
  /** nginx proxy_responses: replies expected per client datagram; null = unlimited (end on idle only). */
  responses: number | null;
  /** Idle sweep period; tests shorten it. */
  tickMs?: number;
}

export interface BoundUdpListener {
  host: string;
  port: number;
  origin: string;
}

/** Counters since start, for the log and tests. */
export interface UdpStats {
  sessions: number;
  /** Datagrams from new clients dropped because no route matched (or its upstream could not forward). */
  noRoute: number;
  /** Sessions ended because the table was full. */
  evicted: number;
  /** Sessions ended because an upstream answered with ICMP refused / unreachable. */
  refused: number;
}

const NONE_TRIED: readonly UpstreamNode[] = [];
/** A node that refused a session is passed over by new sessions for this long while others remain. */
const REFUSED_AVOID_MS = 10_000;
/** At most one "dropped without a route" summary line per this period. */
const NO_ROUTE_REPORT_MS = 10_000;
/** While shutting down, a session quiet for this long is over (UDP has no close to wait for). */
const DRAIN_QUIET_MS = 1000;

export class UdpProxy {
  readonly listeners: BoundUdpListener[] = [];
  readonly handles: UdpListener[] = [];
  readonly counters: UdpStats = { sessions: 0, noRoute: 0, evicted: 0, refused: 0 };
  private readonly table: SessionTable<Session>;
  private readonly refusedUntil = new Map<string, number>();
  private readonly warnedRoutes = new WeakSet<CompiledRoute>();
  /** The session clock; none without UDP listeners (a TCP-only weir wakes up for nothing else). */
  private readonly timer: NodeJS.Timeout | null;
  private readonly expired: Session[] = [];
  private accepting = true;
  /** Shutting down: answered or briefly quiet sessions end instead of waiting for their idle timeout. */
  private draining = false;
  private reportedNoRoute = 0;
  private reportedAt = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly health: HealthView;

  private readonly handlers: UdpUpstreamHandlers<Session> = {
    onDatagram: (sock, data) => this.onReply(sock.context, data),
    onError: (sock, err) => this.onUpstreamError(sock.context, err),
  };

  constructor(private readonly opts: UdpProxyOptions) {
    this.health = opts.health ?? NO_HEALTH;
    this.table = new SessionTable<Session>(opts.maxSessions, Date.now());
    this.timer = opts.listeners.length === 0 ? null : setInterval(() => this.tick(), opts.tickMs ?? 250);
    this.timer?.unref();
  }

  /** Sessions open now. */
  activeSessions(): number {
    return this.table.size;
  }

  stats(): UdpStats {
    return { ...this.counters };
  }

  /** Per datagram from a client. The established-session path is a map lookup, a list move and a send. */
  onDatagram(scope: number, listener: UdpListener, data: Uint8Array, address: string, port: number): void {
    let s = this.table.get(scope, address, port);
    if (s === undefined) {
      if (!this.accepting) return;
      s = this.open(scope, listener, address, port);
      if (s === undefined) return;
    } else if (s.datagramsToClient > 0) {
      this.table.assure(s);
    }
    s.datagramsFromClient++;
    s.bytesFromClient += data.byteLength;
    this.table.touch(s);
    s.upstream!.send(data);
    if (this.opts.responses === 0) this.end(s, 'responses');
  }

  private open(scope: number, listener: UdpListener, address: string, port: number): Session | undefined {
    const info: ConnInfo = {
      protocol: 'udp',
      remoteAddr: address,
      remotePort: port,
      serverAddr: listener.host,
      serverPort: listener.port,
      sni: null,
    };
    const route = selectRoute(this.opts.snapshot(), info);
    const up = route?.upstream ?? null;
    if (route === undefined || up === null) {
      this.counters.noRoute++;
      if (route !== undefined && !this.warnedRoutes.has(route)) {
        this.warnedRoutes.add(route);
        logger.warn('route cannot forward; its datagrams are dropped', { route: route.id, problem: route.problem ?? undefined });
      } else if (route === undefined && isLogged('debug')) {
        logger.debug('not hit any route', { protocol: 'udp', client: formatHostPort(address, port), port: listener.port });
      }
      return undefined;
    }
    const node = this.pickNode(up, info);
    if (node === undefined) {
      this.counters.noRoute++;
      return undefined;
    }
    const s = new Session(scope, listener, info, route, up, node, Date.now());
    const victim = this.table.add(s);
    if (victim !== null) {
      this.counters.evicted++;
      this.finish(victim, 'evicted');
    }
    this.counters.sessions++;
    s.upstream = this.opts.plane.open(node.host, node.port, this.handlers, s);
    return s;
  }

  /**
   * The balancer's pick (health-aware when the upstream has checks), passing over a node that recently
   * refused while another is available: without passive checks configured, that is what moves the next
   * session elsewhere.
   */
  private pickNode(up: CompiledUpstream, info: ConnInfo): UpstreamNode | undefined {
    const health = this.health.checkerOf(up);
    const node = up.balancer.pick(info, NONE_TRIED, health);
    if (node === undefined || this.refusedUntil.size === 0) return node;
    const until = this.refusedUntil.get(node.address);
    if (until === undefined || until <= this.table.now) return node;
    const other = up.balancer.pick(info, [node], health);
    if (other === undefined) return node;
    up.balancer.release?.(node);
    return other;
  }

  private onReply(s: Session, data: Uint8Array): void {
    if (s.list === 0) return;
    // The first reply is UDP's "connected": a passive-check success, once per session.
    if (s.datagramsToClient++ === 0) this.health.checkerOf(s.up)?.reportConnect(s.node, null);
    s.bytesToClient += data.byteLength;
    this.table.touch(s);
    s.listener.send(data, s.info.remoteAddr, s.info.remotePort);
    const expected = this.opts.responses;
    if (expected !== null && s.datagramsToClient >= expected * s.datagramsFromClient) this.end(s, 'responses');
    else if (this.draining && s.answered()) this.end(s, 'shutdown');
  }

  private onUpstreamError(s: Session, err: UdpSocketError): void {
    if (s.list === 0) return;
    if (err.kind === 'other') {
      if (isLogged('debug')) logger.debug('udp upstream socket error', { node: s.node.address, error: err.code });
      return;
    }
    this.counters.refused++;
    this.health.checkerOf(s.up)?.reportConnect(s.node, 'tcp_failure');
    // One warning per node and avoidance window, so clients retrying against a dead node cannot flood the log.
    const known = (this.refusedUntil.get(s.node.address) ?? 0) > this.table.now;
    this.refusedUntil.set(s.node.address, this.table.now + REFUSED_AVOID_MS);
    const fields = { route: s.route.id, node: s.node.address, error: err.code };
    if (!known) logger.warn('udp upstream refused; session closed', fields);
    else if (isLogged('debug')) logger.debug('udp upstream refused; session closed', fields);
    this.end(s, 'upstream_refused', err.code);
  }

  /** End a session that is still in the table. */
  private end(s: Session, reason: SessionEnd, error?: string): void {
    if (this.table.remove(s)) this.finish(s, reason, error);
  }

  /** Close a session already out of the table and write its access record. */
  private finish(s: Session, reason: SessionEnd, error?: string): void {
    s.upstream?.close();
    s.up.balancer.release?.(s.node);
    this.opts.accessLog.write(sessionRecord(s, reason, Date.now(), error));
    if (this.table.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** The clock tick: expire idle sessions, forget old refusals, report drops. */
  private tick(): void {
    const now = Date.now();
    this.table.sweep(now, this.expired, this.draining ? DRAIN_QUIET_MS : Infinity);
    const reason = this.draining ? 'shutdown' : 'idle_timeout';
    for (let i = 0; i < this.expired.length; i++) this.finish(this.expired[i]!, reason);
    this.expired.length = 0;
    for (const [address, until] of this.refusedUntil) if (until <= now) this.refusedUntil.delete(address);
    const dropped = this.counters.noRoute - this.reportedNoRoute;
    if (dropped > 0 && now - this.reportedAt >= NO_ROUTE_REPORT_MS) {
      logger.warn('udp datagrams dropped: not hit any route', { count: dropped, total: this.counters.noRoute });
      this.reportedNoRoute = this.counters.noRoute;
      this.reportedAt = now;
    }
  }

  /** New clients are ignored from now on; open sessions continue. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Stop new sessions and drain: answered sessions end now, the others when their last reply comes or
   * after DRAIN_QUIET_MS without traffic, all within graceMs; then the rest are aborted and the ports released.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.stopAccepting();
    this.draining = true;
    for (const s of this.table.entries()) if (s.answered()) this.end(s, 'shutdown');
    if (this.table.size > 0 && graceMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    for (const s of this.table.entries()) this.end(s, 'aborted');
    if (this.timer !== null) clearInterval(this.timer);
    await Promise.all(this.handles.map((h) => h.close()));
  }
}

/**
 * Bind every UDP listener and start proxying. If one address cannot be bound, the ones already bound
 * are closed and the promise rejects with an Error naming the address and its config origin.
 */
export async function startUdpProxy(opts: UdpProxyOptions): Promise<UdpProxy> {
  const proxy = new UdpProxy(opts);
  for (let scope = 0; scope < opts.listeners.length; scope++) {
    const spec = opts.listeners[scope]!;
    let handle: UdpListener;
    try {
      // One closure per listener (not per datagram) carries the listener's scope into the session key.
      handle = await opts.plane.bind({ host: spec.host, port: spec.port }, (l, data, address, port) =>
        proxy.onDatagram(scope, l, data, address, port),
      );
    } catch (err) {
      await proxy.shutdown(0);
      throw listenError(err, spec.host, spec.port, spec.origin);
    }
    proxy.handles.push(handle);
    proxy.listeners.push({ host: handle.host, port: handle.port, origin: spec.origin });
  }
  return proxy;
}
