// Connection caps at accept: apisix.stream_proxy.max_connections for the whole process and max_connections on
// a listener item. A connection over a cap is closed at once (never left waiting in a queue), written to the
// access log with end reason `refused`, counted per reason, and reported in the error log at most once a second.

import type { AccessLog } from '../../log/logger';
import { RateLimitedWarn } from '../../log/rate-limit';
import type { InboundConn } from '../../runtime/types';
import type { CompiledRoute, ConnInfo, UpstreamNode } from '../../snapshot/types';
import { AccessRecorder } from '../record/access';
import type { EndReason } from '../session/end-reason';

/** Which cap refused a connection: the label of weir_stream_refused_connections_total{reason}. */
export type RefusalReason = 'max_connections' | 'listener_max_connections';

export const REFUSAL_REASONS: readonly RefusalReason[] = ['max_connections', 'listener_max_connections'];

/** One listener's count; the binder keeps one per bound listener. */
export interface ListenerCount {
  /** The listener's cap now (read per accept: a reload may change it in place); null = none. */
  readonly max: number | null;
  open: number;
  /** The listener as the config names it, for the log line. */
  readonly origin: string;
}

/**
 * Checks accepted connections against the caps. The host count is the flow's own count of open connections
 * (exact, and it cannot drift); each listener counts its admitted connections until their record is written.
 * `admit` runs on every accept and is a few integer comparisons.
 */
export class ConnectionLimiter {
  private readonly refusedBy: Record<RefusalReason, number> = { max_connections: 0, listener_max_connections: 0 };
  private readonly warnings: RateLimitedWarn;

  constructor(
    /** The host cap; null = none. */
    readonly max: number | null,
    /** Connections open in the whole proxy right now. */
    private readonly openNow: () => number,
    warn?: RateLimitedWarn,
  ) {
    this.warnings = warn ?? new RateLimitedWarn({ periodMs: 1000 });
  }

  /** Refusals so far, per reason (read by metrics and tests). */
  refused(): Readonly<Record<RefusalReason, number>> {
    return this.refusedBy;
  }

  /** Admit or refuse one accepted connection; null = admitted (the listener counts it until release). */
  admit(listener: ListenerCount | null): RefusalReason | null {
    if (this.max !== null && this.openNow() >= this.max) return this.refuse('max_connections', null);
    if (listener !== null && listener.max !== null && listener.open >= listener.max) return this.refuse('listener_max_connections', listener);
    if (listener !== null) listener.open++;
    return null;
  }

  /** Stop the log summary timer (shutdown); pending counts are written now. */
  close(): void {
    this.warnings.close();
  }

  private refuse(reason: RefusalReason, listener: ListenerCount | null): RefusalReason {
    this.refusedBy[reason]++;
    const cap = listener === null ? this.max : listener.max;
    const setting = listener === null ? 'apisix.stream_proxy.max_connections' : `${listener.origin}.max_connections`;
    this.warnings.warn(reason, 'connection refused: connection cap reached', { cap, setting });
    return reason;
  }
}

/** The ConnInfo of a refused connection, for its access record (no prelude ran: no SNI, no TLS). */
export function refusedConnInfo(conn: InboundConn): ConnInfo {
  return { protocol: 'tcp', remoteAddr: conn.remoteAddress, remotePort: conn.remotePort, serverAddr: conn.localAddress, serverPort: conn.localPort, sni: null };
}

/**
 * Wrap a listener's accept callback with the caps. A refused connection is destroyed before any byte is read
 * and recorded with end reason `refused`. Connections of a listener with its own cap are remembered until
 * `released` (one map entry each); listeners without one cost nothing per connection.
 */
export class LimitedAccept {
  private readonly listenerOf = new Map<InboundConn, ListenerCount>();

  constructor(
    readonly limiter: ConnectionLimiter,
    private readonly destroy: (conn: InboundConn) => void,
    private readonly recordRefusal: (info: ConnInfo, error: string) => void,
  ) {}

  /** The accept callback for one listener. Runs per accepted connection. */
  wrap(count: ListenerCount, onConn: (conn: InboundConn) => void): (conn: InboundConn) => void {
    return (conn) => {
      // a cap added to a running listener counts the connections accepted from then on
      const own = count.max === null ? null : count;
      const refused = this.limiter.admit(own);
      if (refused !== null) {
        this.destroy(conn);
        const cap = refused === 'max_connections' ? this.limiter.max : count.max;
        return this.recordRefusal(refusedConnInfo(conn), `${refused} ${cap} reached`);
      }
      if (own !== null) this.listenerOf.set(conn, own);
      onConn(conn);
    };
  }

  /** A connection's record was written. Runs once per connection; a map lookup only while some listener has a cap. */
  released(conn: InboundConn): void {
    if (this.listenerOf.size === 0) return;
    const count = this.listenerOf.get(conn);
    if (count === undefined) return;
    this.listenerOf.delete(conn);
    count.open--;
  }
}

/**
 * The TCP flow's recorder when caps are on: writing a connection's record is its last act, so that is where its
 * listener stops counting it. Refusals are written through the same recorder.
 */
export class ReleasingRecorder extends AccessRecorder {
  accept: LimitedAccept | null = null;

  constructor(log: AccessLog) {
    super(log);
  }

  override connection(
    info: ConnInfo,
    route: CompiledRoute | null,
    node: UpstreamNode | null,
    startedAt: number,
    fromClient: number,
    toClient: number,
    end: EndReason,
    error?: string,
  ): void {
    const client = (info as { client?: InboundConn }).client;
    if (client !== undefined && this.accept !== null) this.accept.released(client);
    super.connection(info, route, node, startedAt, fromClient, toClient, end, error);
  }
}
