// The TCP proxy flow: accept -> select route (current snapshot) -> dial with retries -> pipe -> access log.
// Also owns the listener set and the graceful shutdown of open connections.

import type { TcpListenSpec } from '../../config/types';
import { formatHostPort } from '../../lib/ip';
import { listenError } from '../../lib/listen-error';
import { type AccessLog, isLogged, logger } from '../../log/logger';
import { RateLimitedWarn } from '../../log/rate-limit';
import type { InboundConn, OutboundConn, PipeOptions, PipeResult, TcpDataPlane, TcpListener } from '../../runtime/types';
import type { AccessRecord } from '../../log/logger';
import type { CompiledRoute, CompiledUpstream, ConnInfo, Snapshot, UpstreamNode } from '../../snapshot/types';
import { type DialFailure, type DialPorts, UpstreamDial, releaseNode } from '../connect/dial';
import { type HealthView, NO_HEALTH } from '../../health/types';
import { selectRoute } from '../match/route';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_PREREAD_TIMEOUT_MS, type TlsFlowOptions, type TlsMode, acceptTls, tlsModeOf } from './tls';

export interface TcpProxyOptions {
  plane: TcpDataPlane;
  listeners: TcpListenSpec[];
  /** The snapshot new connections use; read once per accepted connection. */
  snapshot: () => Snapshot;
  /** The upstreams' running health checkers, beside the snapshot (default: none). */
  health?: HealthView;
  accessLog: AccessLog;
  /** TLS listeners: apisix.ssl.fallback_sni and the preread / handshake timeouts (defaults 30 s). */
  tls?: { fallbackSni: string | null; prereadTimeoutMs?: number; handshakeTimeoutMs?: number };
}

export interface BoundTcpListener {
  host: string;
  port: number;
  origin: string;
}

export interface TcpProxy {
  /** The addresses actually bound (port 0 in the config becomes the real port). */
  readonly listeners: readonly BoundTcpListener[];
  /** Connections accepted and not yet finished (ClientHello preread, TLS handshake, dialling or piping). */
  activeConnections(): number;
  /** Stop accepting; open connections continue. */
  stopAccepting(): Promise<void>;
  /** Stop accepting, wait up to graceMs for open connections to finish, then abort the rest. */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * One accepted connection, from its route selection to its access record. It is the connection's ConnInfo,
 * its dial state (UpstreamDial) and its pipe options at once: per plain TCP connection the proxy allocates
 * this object and nothing else of its own (bench/README.md, issue 7). Tens of thousands of these live as long
 * as their connections, so nothing the client connection or the dial state already holds is copied here:
 * the endpoints are read from the client, the upstream and node from the dial.
 */
class ProxyConn extends UpstreamDial implements ConnInfo, PipeOptions {
  readonly sni: string | null;
  readonly tls: 'terminated' | 'passthrough' | undefined;
  /** Set once a route with an upstream is selected (dial()). */
  route: CompiledRoute | null = null;
  /** Set once connected (the node is then `current`). */
  upstreamConn: OutboundConn | null = null;
  /** Set when shutdown aborted it while the upstream was still being dialled. */
  aborted = false;
  /** `info`: what a TLS listener learnt (SNI, terminated or passed through); null for plain TCP. */
  constructor(
    private readonly proxy: TcpProxyImpl,
    readonly client: InboundConn,
    info: ConnInfo | null,
    readonly startedAt: number,
  ) {
    super();
    this.sni = info === null ? null : info.sni;
    this.tls = info === null ? undefined : info.tls;
  }

  get protocol(): 'tcp' {
    return 'tcp';
  }
  get remoteAddr(): string {
    return this.client.remoteAddress;
  }
  get remotePort(): number {
    return this.client.remotePort;
  }
  get serverAddr(): string {
    return this.client.localAddress;
  }
  get serverPort(): number {
    return this.client.localPort;
  }
  /** PipeOptions: the upstream's proxy_timeout. */
  get idleTimeoutMs(): number {
    return this.upstream!.idleTimeoutMs;
  }

  /** `now`: Date.now() when the caller has just read it (a plain accept), else undefined. */
  dial(ports: DialPorts, route: CompiledRoute, upstream: CompiledUpstream, now: number | undefined): void {
    this.route = route;
    this.startDial(ports, upstream, now);
  }

  protected dialInfo(): ConnInfo {
    return this;
  }

  protected dialed(conn: OutboundConn): void {
    this.proxy.onDialed(this, conn);
  }

  protected dialFailed(failure: DialFailure): void {
    this.proxy.onDialFailed(this, failure);
  }
}

class TcpProxyImpl implements TcpProxy {
  readonly listeners: BoundTcpListener[] = [];
  readonly handles: TcpListener[] = [];
  private readonly active = new Set<ProxyConn>();
  /** TLS listener connections still in preread or handshake (no route, no upstream yet). */
  private readonly handshaking = new Map<InboundConn, { info: ConnInfo; startedAt: number }>();
  private readonly handshakeWarnings = new RateLimitedWarn();
  /** Routes whose "cannot forward" warning was logged: once per compiled route, so a client loop cannot flood the log. */
  private readonly warnedRoutes = new WeakSet<CompiledRoute>();
  /** Resolved when `active` becomes empty (shutdown waits on it). */
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: TcpProxyOptions) {
    this.dialPorts = { plane: opts.plane, health: opts.health ?? NO_HEALTH };
    this.tlsFlow = {
      plane: opts.plane,
      snapshot: opts.snapshot,
      fallbackSni: opts.tls?.fallbackSni ?? null,
      prereadTimeoutMs: opts.tls?.prereadTimeoutMs ?? DEFAULT_PREREAD_TIMEOUT_MS,
      handshakeTimeoutMs: opts.tls?.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      handshakeWarnings: this.handshakeWarnings,
      proceed: (client, info, startedAt) => {
        // shutdown closed it and wrote its record already
        if (!this.handshakeDone(client)) return this.opts.plane.destroy(client);
        this.routeConn(new ProxyConn(this, client, info, startedAt), undefined);
      },
      reject: (client, info, startedAt, end, error) => {
        this.opts.plane.destroy(client);
        if (!this.handshakeDone(client)) return;
        this.record(info, null, null, startedAt, 0, 0, end, error);
      },
    };
  }

  private readonly tlsFlow: TlsFlowOptions;
  private readonly dialPorts: DialPorts;

  readonly onConn = (client: InboundConn): void => {
    const now = Date.now();
    this.routeConn(new ProxyConn(this, client, null, now), now);
  };

  /** A connection on a TLS listener: ClientHello first (src/proxy/listener/tls.ts), then routeConn. */
  onTlsConn(client: InboundConn, mode: TlsMode): void {
    const pending = { info: this.connInfo(client), startedAt: Date.now() };
    this.handshaking.set(client, pending);
    acceptTls(this.tlsFlow, mode, client, pending.info, pending.startedAt);
  }

  /** Preread/handshake over: false when shutdown had already closed the connection. */
  private handshakeDone(client: InboundConn): boolean {
    if (!this.handshaking.delete(client)) return false;
    if (this.handshaking.size === 0) this.wakeIfIdle();
    return true;
  }

  private connInfo(client: InboundConn): ConnInfo {
    return {
      protocol: 'tcp',
      remoteAddr: client.remoteAddress,
      remotePort: client.remotePort,
      serverAddr: client.localAddress,
      serverPort: client.localPort,
      sni: null,
    };
  }

  /**
   * Select the route (after any TLS handshake), then dial and pipe. `now`: Date.now() if read just before
   * (the dial's start time), else undefined.
   */
  private routeConn(pc: ProxyConn, now: number | undefined): void {
    const route = selectRoute(this.opts.snapshot(), pc);
    if (route === undefined) {
      this.opts.plane.destroy(pc.client);
      if (isLogged('debug')) {
        logger.debug('not hit any route', { client: formatHostPort(pc.remoteAddr, pc.remotePort), port: pc.serverPort });
      }
      return this.record(pc, null, null, pc.startedAt, 0, 0, 'no_route');
    }
    const upstream = route.upstream;
    if (upstream === null) {
      this.opts.plane.destroy(pc.client);
      if (!this.warnedRoutes.has(route)) {
        this.warnedRoutes.add(route);
        logger.warn('route cannot forward; its connections are closed', { route: route.id, problem: route.problem ?? undefined });
      }
      return this.record(pc, route, null, pc.startedAt, 0, 0, 'no_upstream', route.problem ?? undefined);
    }
    this.active.add(pc);
    pc.dial(this.dialPorts, route, upstream, now);
  }

  /** From ProxyConn.dialed(). */
  onDialed(pc: ProxyConn, conn: OutboundConn): void {
    const { plane } = this.opts;
    if (pc.aborted) {
      plane.destroy(conn);
      releaseNode(pc.upstream!, pc.current!);
      return;
    }
    pc.upstreamConn = conn;
    plane.pipe(pc.client, conn, pc, this.onPiped);
  }

  /** From ProxyConn.dialFailed(). */
  onDialFailed(pc: ProxyConn, err: DialFailure): void {
    if (pc.aborted) return;
    this.opts.plane.destroy(pc.client);
    this.finish(pc);
    this.record(pc, pc.route, err.node, pc.startedAt, 0, 0, 'connect_failed', err.message);
  }

  /** The pipe's end, shared by every connection (the pipe hands the ProxyConn back). */
  private readonly onPiped = (r: PipeResult, pc: ProxyConn): void => {
    releaseNode(pc.upstream!, pc.current!); // least_conn/ewma stop counting this session
    this.finish(pc);
    this.record(pc, pc.route, pc.current, pc.startedAt, r.bytesFromClient, r.bytesToClient, r.reason, r.error);
  };

  private finish(pc: ProxyConn): void {
    this.active.delete(pc);
    this.wakeIfIdle();
  }

  private wakeIfIdle(): void {
    if (this.active.size === 0 && this.handshaking.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  private record(
    info: ConnInfo,
    route: CompiledRoute | null,
    node: UpstreamNode | null,
    startedAt: number,
    fromClient: number,
    toClient: number,
    end: string,
    error?: string,
  ): void {
    if (!this.opts.accessLog.enabled) return;
    // write() encodes the record before it returns, so one record object serves every connection;
    // `error` stays last and undefined when absent (the log line leaves it out)
    const rec = this.rec;
    rec.route = route === null ? null : route.id;
    rec.client = formatHostPort(info.remoteAddr, info.remotePort);
    rec.server = this.serverText(info.serverAddr, info.serverPort);
    rec.upstream = node === null ? null : node.address;
    rec.bytes_from_client = fromClient;
    rec.bytes_to_client = toClient;
    rec.duration_ms = Date.now() - startedAt;
    rec.end = end;
    rec.error = error;
    this.opts.accessLog.write(rec);
    rec.client = rec.server = rec.end = '';
    rec.error = undefined;
  }

  private readonly rec: AccessRecord = {
    protocol: 'tcp',
    route: null,
    client: '',
    server: '',
    upstream: null,
    bytes_from_client: 0,
    bytes_to_client: 0,
    duration_ms: 0,
    end: '',
    error: undefined,
  };

  /** The listener address as logged: a proxy has a few, so the last one's text is kept. */
  private lastServerAddr = '';
  private lastServerPort = -1;
  private lastServerText = '';
  private serverText(addr: string, port: number): string {
    if (port !== this.lastServerPort || addr !== this.lastServerAddr) {
      this.lastServerAddr = addr;
      this.lastServerPort = port;
      this.lastServerText = formatHostPort(addr, port);
    }
    return this.lastServerText;
  }

  activeConnections(): number {
    return this.active.size + this.handshaking.size;
  }

  async stopAccepting(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.stop()));
  }

  /** Resolves when no connection is open, or after `ms`, whichever is first. */
  private waitIdle(ms: number): Promise<void> {
    if (this.active.size === 0 && this.handshaking.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async shutdown(graceMs: number): Promise<void> {
    await this.stopAccepting();
    this.closeHandshaking();
    await this.waitIdle(graceMs);
    for (const pc of [...this.active]) {
      if (pc.upstreamConn !== null) {
        this.opts.plane.destroy(pc.client); // running pipe: its done() writes the 'aborted' record
      } else {
        pc.aborted = true;
        this.opts.plane.destroy(pc.client);
        this.finish(pc);
        this.record(pc, pc.route, null, pc.startedAt, 0, 0, 'aborted', 'shutdown while connecting upstream');
      }
    }
    // aborted pipes report on their close events; a bounded wait keeps shutdown from hanging
    await this.waitIdle(2000);
    this.handshakeWarnings.close();
  }

  /**
   * Shutdown does not wait for connections still in ClientHello preread or TLS handshake: they have no
   * route and no upstream, so closing them loses nothing, and a client stalling its handshake must not
   * hold the grace period open. Their plane callbacks (if any come) are ignored by handshakeDone().
   */
  private closeHandshaking(): void {
    const pending = [...this.handshaking];
    this.handshaking.clear();
    for (const [client, { info, startedAt }] of pending) {
      this.opts.plane.destroy(client);
      this.record(info, null, null, startedAt, 0, 0, 'aborted', 'shutdown during ClientHello preread or TLS handshake');
    }
    this.wakeIfIdle();
  }
}

/**
 * Bind every TCP listener and start proxying. If one address cannot be bound, the ones already bound
 * are closed and the promise rejects with an Error naming the address and its config origin.
 */
export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const proxy = new TcpProxyImpl(opts);
  for (const spec of opts.listeners) {
    const mode = tlsModeOf(spec);
    let handle: TcpListener;
    try {
      handle = mode === null
        ? await opts.plane.listen({ host: spec.host, port: spec.port }, proxy.onConn)
        : await opts.plane.listen({ host: spec.host, port: spec.port, tls: true }, (c) => proxy.onTlsConn(c, mode));
    } catch (err) {
      await proxy.stopAccepting();
      throw listenError(err, spec.host, spec.port, spec.origin);
    }
    proxy.handles.push(handle);
    proxy.listeners.push({ host: handle.host, port: handle.port, origin: spec.origin });
  }
  return proxy;
}
