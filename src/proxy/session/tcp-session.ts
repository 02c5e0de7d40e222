// The one record a proxied TCP connection has, from accept to its access record: what the phases learnt
// (client and server addresses, TLS facts, the route), the dial state (UpstreamDial) and the pipe options.
//
// Tens of thousands of these live as long as their connections (bench/README.md, issue 7), so it is one object
// and copies nothing the client socket or the dial state already holds: the endpoints are read from the
// socket, the upstream and node from the dial. Rarely used facts sit behind one nullable field (`extra`).

import type { ConnectError, InboundConn, OutboundConn, PipeOptions, PrereadCallback } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo, UpstreamNode } from '../../snapshot/types';
import { type DialFailure, type DialPorts, UpstreamDial } from '../connect/dial';
import type { FilterConn } from '../filter/types';

/** What the flow does when a session's dial is over (implemented by the TCP flow; one per flow, not per session). */
export interface DialOutcome {
  onDialed(s: TcpSession, conn: OutboundConn): void;
  onDialFailed(s: TcpSession, failure: DialFailure): void;
}

/** How a session's filters read the client's first bytes: the flow's plane and preread timeout (one per flow). */
export interface PrereadPort {
  prereadClient(s: TcpSession, maxBytes: number, cb: PrereadCallback): void;
}

/** Facts most connections never have (plain TCP has none of them); allocated only for those that do. */
export interface SessionExtra {
  /** Lowercased SNI from the ClientHello (or apisix.ssl.fallback_sni). */
  sni: string | null;
  /** Decided by the TLS prelude on TLS listeners. */
  tls: 'terminated' | 'passthrough' | undefined;
  /** The client as a trusted PROXY header named it (the socket's peer is then the proxy in front). */
  clientAddr: string | null;
  clientPort: number;
  /** Bytes written upstream before the client's (a PROXY header to the node). */
  upstreamPrefix: Uint8Array | null;
  /** Variables the route's filters set (FilterConn.setVar), read by a chash key and the log phase. */
  vars: Map<string, string> | null;
}

export class TcpSession extends UpstreamDial implements ConnInfo, PipeOptions, FilterConn {
  /** undefined: not matched yet; null: no route matched. The prelude may match early (mixed TLS listeners). */
  matched: CompiledRoute | null | undefined = undefined;
  /** Set once connected (the node is then `current`). */
  upstreamConn: OutboundConn | null = null;
  /** Set when shutdown cut it while the upstream was still being dialled (or filters were deciding). */
  aborted = false;
  extra: SessionExtra | null = null;

  constructor(
    private readonly outcome: DialOutcome & PrereadPort,
    readonly client: InboundConn,
    readonly startedAt: number,
  ) {
    super();
  }

  get protocol(): 'tcp' {
    return 'tcp';
  }
  /** ConnInfo: null for plain TCP. */
  get sni(): string | null {
    return this.extra === null ? null : this.extra.sni;
  }
  set sni(name: string | null) {
    this.ensureExtra().sni = name;
  }
  get tls(): 'terminated' | 'passthrough' | undefined {
    return this.extra === null ? undefined : this.extra.tls;
  }
  set tls(mode: 'terminated' | 'passthrough' | undefined) {
    this.ensureExtra().tls = mode;
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
  /** ConnInfo: what the filters set, for a chash key naming a variable. */
  get vars(): ReadonlyMap<string, string> | null {
    return this.extra === null ? null : this.extra.vars;
  }

  private ensureExtra(): SessionExtra {
    return (this.extra ??= { sni: null, tls: undefined, clientAddr: null, clientPort: 0, upstreamPrefix: null, vars: null });
  }

  /** FilterConn: a variable an earlier filter set. */
  getVar(name: string): string | undefined {
    return this.extra?.vars?.get(name);
  }

  /** FilterConn: kept behind `extra`, which connections whose filters set nothing never allocate. */
  setVar(name: string, value: string): void {
    (this.ensureExtra().vars ??= new Map()).set(name, value);
  }

  /** FilterConn: peek at the client's first bytes through the flow's data plane. */
  preread(maxBytes: number, cb: PrereadCallback): void {
    this.outcome.prereadClient(this, maxBytes, cb);
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
  dial(ports: DialPorts, upstream: CompiledUpstream, now: number | undefined): void {
    this.startDial(ports, upstream, now);
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

  /** Each connect attempt, for the route's metrics when it carries the prometheus plugin (else one null check). */
  protected override attempted(node: UpstreamNode, startedAt: number, err: ConnectError | null): void {
    const meter = this.matched!.filters.meter;
    if (meter == null) return;
    if (err === null) meter.connected(node, Date.now() - startedAt);
    else meter.connectFailed(node, err.kind);
  }
}
