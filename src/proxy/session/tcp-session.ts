// The one record a proxied TCP connection has, from accept to its access record: what the phases learnt
// (client and server addresses, TLS facts, the route), the dial state (UpstreamDial) and the pipe options.
//
// Tens of thousands of these live as long as their connections (bench/README.md, issue 7), so it is one object
// and copies nothing the client socket or the dial state already holds: the endpoints are read from the
// socket, the upstream and node from the dial. Rarely used facts sit behind one nullable field (`extra`).

import type { InboundConn, OutboundConn, PipeOptions, PipeThrottle, PrereadCallback, TcpDataPlane } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo } from '../../snapshot/types';
import { type DialFailure, UpstreamDial } from '../connect/dial';
import type { ConnThrottle, FilterConn } from '../filter/types';

/** What the flow does when a session's dial is over (implemented by the TCP flow; one per flow, not per session). */
export interface DialOutcome {
  onDialed(s: TcpSession, conn: OutboundConn): void;
  onDialFailed(s: TcpSession, failure: DialFailure): void;
  /** The flow's data plane, for a filter's preread of the client. */
  readonly plane?: TcpDataPlane;
}

/** Facts most connections never have; allocated only for those that do. */
export interface SessionExtra {
  /** The client as a trusted PROXY header named it (the socket's peer is then the proxy in front). */
  clientAddr: string | null;
  clientPort: number;
  /** Bytes written upstream before the client's (a PROXY header to the node). */
  upstreamPrefix: Uint8Array | null;
  /** What the route's filters set (FilterConn): variables, an upstream of their choice, pipe limits, own state. */
  vars: Map<string, string> | null;
  upstream: CompiledUpstream | null;
  throttle: ConnThrottle | null;
  state: Record<string, unknown> | null;
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
  /** PipeOptions: limit-bandwidth's limits, read once when the pipe starts. */
  get throttle(): PipeThrottle | null {
    return this.extra === null ? null : this.extra.throttle;
  }
  /** ConnInfo: variables the filters set (the chash key may name one). */
  get vars(): ReadonlyMap<string, string> | null {
    return this.extra === null ? null : this.extra.vars;
  }
  /** The upstream to dial once the filters are done: one a filter chose, else the route's. */
  get chosenUpstream(): CompiledUpstream | null {
    const x = this.extra;
    return x !== null && x.upstream !== null ? x.upstream : this.matched!.upstream;
  }

  private ensureExtra(): SessionExtra {
    return (this.extra ??= { clientAddr: null, clientPort: 0, upstreamPrefix: null, vars: null, upstream: null, throttle: null, state: null });
  }

  // FilterConn: what the route's filters may set (kept in `extra`, which plain connections never allocate)
  getVar(name: string): string | undefined {
    return this.extra?.vars?.get(name);
  }
  setVar(name: string, value: string): void {
    (this.ensureExtra().vars ??= new Map()).set(name, value);
  }
  setUpstream(upstream: CompiledUpstream): void {
    this.ensureExtra().upstream = upstream;
  }
  setThrottle(throttle: ConnThrottle): void {
    this.ensureExtra().throttle = throttle;
  }
  getState(filter: string): unknown {
    return this.extra?.state?.[filter];
  }
  setState(filter: string, value: unknown): void {
    (this.ensureExtra().state ??= {})[filter] = value;
  }
  /** FilterConn: plain TCP only (a TLS listener's prelude has read the client already: one preread per conn). */
  preread(maxBytes: number, timeoutMs: number, cb: PrereadCallback): boolean {
    const plane = this.outcome.plane;
    if (plane === undefined || this.tls !== undefined) return false;
    plane.preread(this.client, maxBytes, timeoutMs, cb);
    return true;
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
