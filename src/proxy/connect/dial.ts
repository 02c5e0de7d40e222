// Dial an upstream for one connection: pick a node, connect with the upstream's timeout, and on a
// failed connect retry the next untried node within `retries` and `retry_timeout` (spec 5.3).
// Every attempt's outcome goes to passive health and to the balancer (least_conn counts, ewma latency).

import type { ConnectError, OutboundConn, TcpDataPlane, TlsConnectOptions } from '../../runtime/types';
import type { CompiledUpstream, ConnInfo, UpstreamNode } from '../../snapshot/types';
import { logger } from '../../log/logger';

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

/** One dial in progress. Lives until `done` is called; one per connection. */
class Dial {
  readonly tried: UpstreamNode[] = [];
  readonly startedAt: number;
  current: UpstreamNode | null = null;
  last: ConnectError | null = null;
  /** When the current attempt started (ewma's latency sample). */
  attemptAt = 0;
  constructor(
    readonly plane: TcpDataPlane,
    readonly upstream: CompiledUpstream,
    readonly conn: ConnInfo,
    readonly done: DialDone,
    readonly now: Clock,
  ) {
    this.startedAt = now();
  }

  next(): void {
    const health = this.upstream.health?.checker ?? null;
    const node = this.upstream.balancer.pick(this.conn, this.tried, health);
    if (node === undefined) return this.fail('ERR_NO_UPSTREAM_NODE');
    this.current = node;
    this.attemptAt = this.now();
    this.plane.connect(node.host, node.port, this.upstream.connectTimeoutMs, (err, out) => this.settle(node, err, out), upstreamTls(this.upstream, this.conn));
  }

  settle(node: UpstreamNode, err: ConnectError | null, out: OutboundConn | null): void {
    const { balancer, health } = this.upstream;
    const ok = err === null && out !== null;
    balancer.observe?.(node, this.now() - this.attemptAt, ok);
    if (ok) {
      health?.checker?.reportConnect(node, null);
      this.done(null, { conn: out, node, attempts: this.tried.length + 1 });
      return;
    }
    balancer.release?.(node); // the session that pick() counted never started
    this.last = err ?? { kind: 'other', code: 'ERR_CONNECT', message: 'connect failed' };
    health?.checker?.reportConnect(node, this.last.kind === 'timeout' ? 'timeout' : 'tcp_failure');
    logger.warn('connect() failed', { upstream: this.upstream.key, node: node.address, error: this.last.code });
    this.tried.push(node);
    if (this.tried.length > this.upstream.retries) return this.fail('ERR_UPSTREAM_CONNECT');
    const limit = this.upstream.retryTimeoutMs;
    if (limit > 0 && this.now() - this.startedAt >= limit) return this.fail('ERR_UPSTREAM_CONNECT');
    this.next();
  }

  fail(code: DialFailure['code']): void {
    const attempts = this.tried.length;
    const message =
      attempts === 0
        ? 'no valid upstream node'
        : `connect to ${this.current!.address} failed after ${attempts} attempt${attempts > 1 ? 's' : ''}: ${this.last!.code}`;
    // A picker with nothing left after failures is still a connect failure for the caller.
    const finalCode = attempts === 0 ? code : 'ERR_UPSTREAM_CONNECT';
    this.done({ code: finalCode, message, last: this.last, node: this.current, attempts }, null);
  }
}

/**
 * Connect to one of the upstream's nodes for `conn`. Calls `done` exactly once, with the connected
 * socket and its node, or with the failure after the allowed attempts. Runs once per connection.
 * On success the caller owns the node's balancer slot: call releaseNode() when the session ends.
 */
export function dialUpstream(
  plane: TcpDataPlane,
  upstream: CompiledUpstream,
  conn: ConnInfo,
  done: DialDone,
  now: Clock = Date.now,
): void {
  new Dial(plane, upstream, conn, done, now).next();
}

/** A dialled session is over: least_conn and ewma stop counting it. Call once per DialSuccess. */
export function releaseNode(upstream: CompiledUpstream, node: UpstreamNode): void {
  upstream.balancer.release?.(node);
}
