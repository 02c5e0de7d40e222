// The one record a proxied TCP connection has, from accept to its access record: what the phases learnt
// (client and server addresses, TLS facts, the route), the dial state (UpstreamDial) and the pipe options.
//
// Tens of thousands of these live as long as their connections (bench/README.md, issue 7), so it is one object
// and copies nothing the client socket or the dial state already holds: the endpoints are read from the
// socket, the upstream and node from the dial. Rarely used facts sit behind one nullable field (`extra`).

import type { InboundConn, OutboundConn, PipeOptions, TcpDataPlane } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo } from '../../snapshot/types';
import { type DialFailure, UpstreamDial } from '../connect/dial';
import type { FilterConn } from '../filter/types';
import type { EndReason } from './end-reason';

/** What the flow does when a session's dial is over (implemented by the TCP flow; one per flow, not per session). */
export interface DialOutcome {
  onDialed(s: TcpSession, conn: OutboundConn): void;
  onDialFailed(s: TcpSession, failure: DialFailure): void;
}

/** Facts most connections never have; allocated only for those that do. */
export interface SessionExtra {
  /** The client as a trusted PROXY header named it (the socket's peer is then the proxy in front). */
  clientAddr: string | null;
  clientPort: number;
  /** Bytes written upstream before the client's (a PROXY header to the node). */
  upstreamPrefix: Uint8Array | null;
  /** Why weir cut it on purpose (a session policy), recorded instead of the pipe's 'aborted'; with its explanation. */
  endReason: EndReason | null;
  endNote: string | null;
}

export class TcpSession extends UpstreamDial implements ConnInfo, PipeOptions, FilterConn {
  /** Lowercased SNI from the ClientHello (or apisix.ssl.fallback_sni); null for plain TCP. */
  sni: string | null = null;
  /** Decided by the TLS prelude on TLS listeners. */
  tls: 'terminated' | 'passthrough' | undefined = undefined;
  /** undefined: not matched yet; null: no route matched. The prelude may match early (mixed TLS listeners). */
  matched: CompiledRoute | null | undefined = undefined;
  /** Set once connected (the node is then `current`). */
  upstreamConn: OutboundConn | null = null;
  /** Set when shutdown cut it while the upstream was still being dialled (or filters were deciding). */
  aborted = false;
  extra: SessionExtra | null = null;

  constructor(
    private readonly outcome: DialOutcome,
    readonly client: InboundConn,
    readonly startedAt: number,
  ) {
    super();
  }

  get protocol(): 'tcp' {
    return 'tcp';
  }
  get remoteAddr(): string {
    const x = this.extra;
    return x === null || x.clientAddr === null ? this.client.remoteAddress : x.clientAddr;
  }
  get remotePort(): number {
    const x = this.extra;
    return x === null || x.clientAddr === null ? this.client.remotePort : x.clientPort;
  }
  get serverAddr(): string {
    return this.client.localAddress;
  }
  get serverPort(): number {
    return this.client.localPort;
  }
  /** FilterConn: the connection facts are this record itself. */
  get info(): ConnInfo {
    return this;
  }
  /** FilterConn: filters run only after a route matched. */
  get route(): CompiledRoute {
    return this.matched!;
  }
  /** PipeOptions: the upstream's proxy_timeout. */
  get idleTimeoutMs(): number {
    return this.upstream!.idleTimeoutMs;
  }
  /** PipeOptions: read once when the pipe starts. */
  get upstreamPrefix(): Uint8Array | null {
    return this.extra === null ? null : this.extra.upstreamPrefix;
  }

  private ensureExtra(): SessionExtra {
    return (this.extra ??= { clientAddr: null, clientPort: 0, upstreamPrefix: null, endReason: null, endNote: null });
  }

  /** A session policy is about to cut this connection: its record says why (rare: lives in `extra`). */
  markCut(reason: EndReason, note: string): void {
    const x = this.ensureExtra();
    x.endReason = reason;
    x.endNote = note;
  }

  /** The prelude learnt the real client (a trusted PROXY header): every later phase sees it. */
  setClient(addr: string, port: number): void {
    const x = this.ensureExtra();
    x.clientAddr = addr;
    x.clientPort = port;
  }

  /** Write these bytes to the node before the client's (the connect phase's PROXY header). */
  setUpstreamPrefix(bytes: Uint8Array | null): void {
    if (bytes === null && this.extra === null) return;
    this.ensureExtra().upstreamPrefix = bytes;
  }

  /** `now`: Date.now() when the caller has just read it (a plain accept), else undefined. */
  dial(plane: TcpDataPlane, upstream: CompiledUpstream, now: number | undefined): void {
    this.startDial(plane, upstream, now);
  }

  protected dialInfo(): ConnInfo {
    return this;
  }

  protected dialed(conn: OutboundConn): void {
    this.outcome.onDialed(this, conn);
  }

  protected dialFailed(failure: DialFailure): void {
    this.outcome.onDialFailed(this, failure);
  }
}
