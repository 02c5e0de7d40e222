// Dial an upstream for one connection: pick a node, connect with the upstream's timeout, and on a
// failed connect retry the next untried node within `retries` and `retry_timeout` (spec 5.3).
// Every attempt's outcome goes to passive health and to the balancer (least_conn counts, ewma latency; a
// TCP session gives ewma the time to its first reply instead of the connect time, see TcpSession).
//
// Runs once per proxied connection, so the dial state is a base class the connection's one record extends
// (src/proxy/session/tcp-session.ts): no separate dial object, no result object on success, and the list of
// failed nodes only exists once a retry happens. The node itself comes from the balance phase (pick.ts).

import type { ConnectError, OutboundConn, TcpDataPlane, TlsConnectOptions } from '../../runtime/types';
import type { CompiledUpstream, ConnInfo, UpstreamNode } from '../../snapshot/types';
import { type HealthView, NO_HEALTH } from '../../health/types';
import { warnConnectFailure } from './connect-warning';
import { NONE_TRIED, pickNode, releaseNode } from './pick';

export { releaseNode } from './pick';

/** What a dial uses besides the upstream: the socket plane and the upstreams' health (one object per proxy). */
export interface DialPorts {
  plane: TcpDataPlane;
  health: HealthView;
}

export interface DialSuccess {
  conn: OutboundConn;
  node: UpstreamNode;
  /** Connect attempts made, including the successful one. */
  attempts: number;
}

export interface DialFailure {
  /** ERR_UPSTREAM_CONNECT (every attempt failed) or ERR_NO_UPSTREAM_NODE (nothing left to pick). */
  code: 'ERR_UPSTREAM_CONNECT' | 'ERR_NO_UPSTREAM_NODE';
  message: string;
  /** The last connect error, if any attempt was made. */
  last: ConnectError | null;
  /** The last node tried, if any. */
  node: UpstreamNode | null;
  attempts: number;
}

export type DialDone = (err: DialFailure | null, ok: DialSuccess | null) => void;

/** What a connect callback without an error or a socket stands for. */
const FAILED_CONNECT: ConnectError = { kind: 'other', code: 'ERR_CONNECT', message: 'connect failed' };

/** Clock seam for retry_timeout tests. */
export type Clock = () => number;

/**
 * scheme "tls" (spec 5.6): send the client's SNI when it came over terminated TLS, else "apisix_backend".
 * A passed-through connection is TLS already: its bytes go to the node as they are.
 */
function upstreamTls(upstream: CompiledUpstream, conn: ConnInfo): TlsConnectOptions | null {
  const config = upstream.tls;
  if (!config || conn.tls === 'passthrough') return null;
  return { config, servername: conn.tls === 'terminated' && conn.sni !== null ? conn.sni : 'apisix_backend' };
}

/** Whether connect() runs TLS to the node for this connection (then a prefix must go before the handshake). */
export function sendsTlsToNode(upstream: CompiledUpstream, conn: ConnInfo): boolean {
  return !!upstream.tls && conn.tls !== 'passthrough';
}

/**
 * One dial in progress, as the base of a per-connection object. startDial() begins it; exactly one of
 * dialed() / dialFailed() is called once it is over. Every field is set in the constructor, so all
 * instances keep one shape.
 */
export abstract class UpstreamDial {
  private dialPorts: DialPorts | null = null;
  /** The upstream being (or that was) dialled. */
  upstream: CompiledUpstream | null = null;
  private dialStartedAt = 0;
  /** When the current attempt started (ewma's latency sample). */
  private attemptAt = 0;
  /** Nodes whose connect failed, in order; null until the first failure. */
  private tried: UpstreamNode[] | null = null;
  private last: ConnectError | null = null;
  /** The node of the attempt in progress (or the last one). */
  current: UpstreamNode | null = null;

  /** Connected: the caller owns the node's balancer slot (releaseNode() when the session ends). */
  protected abstract dialed(conn: OutboundConn, node: UpstreamNode, attempts: number): void;
  protected abstract dialFailed(failure: DialFailure): void;
  /** The connection being served: the balancer's hash keys and the upstream TLS SNI come from it. */
  protected abstract dialInfo(): ConnInfo;
  /**
   * Bytes connect() writes before a TLS handshake (a PROXY header), sent again on every attempt; null for none.
   * Without TLS the pipe writes the prefix instead (PipeOptions.upstreamPrefix).
   */
  protected connectPrefix(): Uint8Array | null {
    return null;
  }

  /**
   * True when the connection times its first reply for ewma (the TCP session: PipeOptions.timeReply): a
   * successful connect is then no latency sample of its own, failed ones still are.
   */
  protected timesReply(): boolean {
    return false;
  }

  /**
   * Every connect attempt's outcome, once settled: `startedAt` is when it began (clock()). The TCP session
   * counts them for the route's metrics; the default does nothing.
   */
  protected attempted(_node: UpstreamNode, _startedAt: number, _err: ConnectError | null): void {}
  /** Milliseconds for retry_timeout and ewma's latency; a method, not a field, so tests can stop time. */
  protected clock(): number {
    return Date.now();
  }

  /** `startedAt`: the clock's current reading, when the caller has just taken it (saves a clock read). */
  protected startDial(ports: DialPorts, upstream: CompiledUpstream, startedAt = this.clock()): void {
    this.dialPorts = ports;
    this.upstream = upstream;
    this.dialStartedAt = startedAt;
    this.attemptAt = startedAt;
    this.attempt();
  }

  private attempt(): void {
    const upstream = this.upstream!;
    const info = this.dialInfo();
    const ports = this.dialPorts!;
    const node = pickNode(upstream, info, this.tried ?? NONE_TRIED, ports.health, null, this.attemptAt);
    if (node === undefined) return this.fail('ERR_NO_UPSTREAM_NODE');
    this.current = node;
    // a closure per attempt, not a field: the plane drops it once the dial is over, so an open connection
    // does not keep it (tens of thousands of idle connections would)
    const tls = upstreamTls(upstream, info);
    ports.plane.connect(node.host, node.port, upstream.connectTimeoutMs, (err, out) => this.settle(err, out), tls, tls === null ? null : this.connectPrefix());
  }

  private settle(err: ConnectError | null, out: OutboundConn | null): void {
    const upstream = this.upstream!;
    const { balancer } = upstream;
    const health = this.dialPorts!.health.checkerOf(upstream);
    const node = this.current!;
    const ok = err === null && out !== null;
    if (balancer.observe !== undefined && !(ok && this.timesReply())) balancer.observe(node, this.clock() - this.attemptAt, ok);
    this.attempted(node, this.attemptAt, ok ? null : (err ?? FAILED_CONNECT));
    if (ok) {
      health?.reportConnect(node, null);
      return this.dialed(out, node, this.tried === null ? 1 : this.tried.length + 1);
    }
    releaseNode(upstream, node); // the session that pick() counted never started
    const last = (this.last = err ?? FAILED_CONNECT);
    health?.reportConnect(node, last.kind === 'timeout' ? 'timeout' : 'tcp_failure');
    warnConnectFailure(upstream.key, node.address, last.code);
    const tried = (this.tried ??= []);
    tried.push(node);
    if (tried.length > upstream.retries) return this.fail('ERR_UPSTREAM_CONNECT');
    const limit = upstream.retryTimeoutMs;
    const now = this.clock();
    if (limit > 0 && now - this.dialStartedAt >= limit) return this.fail('ERR_UPSTREAM_CONNECT');
    this.attemptAt = now;
    this.attempt();
  }

  private fail(code: DialFailure['code']): void {
    const attempts = this.tried === null ? 0 : this.tried.length;
    const message =
      attempts === 0
        ? 'no valid upstream node'
        : `connect to ${this.current!.address} failed after ${attempts} attempt${attempts > 1 ? 's' : ''}: ${this.last!.code}`;
    // A picker with nothing left after failures is still a connect failure for the caller.
    const finalCode = attempts === 0 ? code : 'ERR_UPSTREAM_CONNECT';
    this.dialFailed({ code: finalCode, message, last: this.last, node: this.current, attempts });
  }
}

/** A dial reported through one callback (dialUpstream()). */
class CallbackDial extends UpstreamDial {
  constructor(
    private readonly done: DialDone,
    private readonly info: ConnInfo,
    private readonly now: Clock,
  ) {
    super();
  }
  run(ports: DialPorts, upstream: CompiledUpstream): void {
    this.startDial(ports, upstream);
  }
  protected dialInfo(): ConnInfo {
    return this.info;
  }
  protected override clock(): number {
    return this.now();
  }
  protected dialed(conn: OutboundConn, node: UpstreamNode, attempts: number): void {
    this.done(null, { conn, node, attempts });
  }
  protected dialFailed(failure: DialFailure): void {
    this.done(failure, null);
  }
}

/**
 * Connect to one of the upstream's nodes for `conn`. Calls `done` exactly once, with the connected
 * socket and its node, or with the failure after the allowed attempts.
 * On success the caller owns the node's balancer slot: call releaseNode() when the session ends.
 * The TCP flow's session extends UpstreamDial instead (one object per connection).
 */
export function dialUpstream(
  plane: TcpDataPlane,
  upstream: CompiledUpstream,
  conn: ConnInfo,
  done: DialDone,
  now: Clock = Date.now,
  health: HealthView = NO_HEALTH,
): void {
  new CallbackDial(done, conn, now).run({ plane, health }, upstream);
}
