// Dial an upstream for one connection: pick a node, connect with the upstream's timeout, and on a
// failed connect retry the next untried node within `retries` and `retry_timeout` (spec 5.3).

import type { ConnectError, OutboundConn, TcpDataPlane } from '../../runtime/types';
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

/** One dial in progress. Lives until `done` is called; one per connection. */
class Dial {
  readonly tried: UpstreamNode[] = [];
  readonly startedAt: number;
  current: UpstreamNode | null = null;
  last: ConnectError | null = null;
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
    const node = this.upstream.balancer.pick(this.conn, this.tried);
    if (node === undefined) return this.fail('ERR_NO_UPSTREAM_NODE');
    this.current = node;
    this.plane.connect(node.host, node.port, this.upstream.connectTimeoutMs, (err, out) => this.settle(node, err, out));
  }

  settle(node: UpstreamNode, err: ConnectError | null, out: OutboundConn | null): void {
    if (err === null && out !== null) {
      this.done(null, { conn: out, node, attempts: this.tried.length + 1 });
      return;
    }
    this.last = err ?? { kind: 'other', code: 'ERR_CONNECT', message: 'connect failed' };
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
