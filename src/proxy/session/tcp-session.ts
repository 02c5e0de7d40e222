// The one record a proxied TCP connection has, from accept to its access record: what the phases learnt
// (client and server addresses, TLS facts, the route), the dial state (UpstreamDial) and the pipe options.
//
// Tens of thousands of these live as long as their connections (bench/README.md, issue 7), so it is one object
// and copies nothing the client socket or the dial state already holds: the endpoints are read from the
// socket, the upstream and node from the dial. Rarely used facts sit behind one nullable field (`extra`).

import { formatHostPort } from '../../lib/ip';
import type { ConnectError, InboundConn, OutboundConn, PipeOptions, PipeThrottle, PrereadCallback } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo, UpstreamNode } from '../../snapshot/types';
import { type DialFailure, type DialPorts, sendsTlsToNode, UpstreamDial } from '../connect/dial';
import { type ProxyPrefixSource, tcpPlanOf, terminatedTls, writeTcpProxyPrefix } from '../connect/proxy-prefix';
import type { ConnThrottle, FilterConn } from '../filter/types';
import type { ProxyHeader } from '../prelude/proxy-protocol-types';
import type { EndReason } from './end-reason';
import { connectionIdText, nextConnectionId } from './conn-id';

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
  /** The PROXY header that came in (its destination and TLVs go on to the upstream), or null. */
  header: ProxyHeader | null;
  /** The listener has proxy_protocol_to_upstream. */
  sendHeader: boolean;
  /** Why weir cut the connection when the pipe's own reason ("aborted") would not say (an admin closed it). */
  endAs: EndReason | null;
  /** What the record says beside endAs (why it was cut), or null for the default wording of that reason. */
  endNote: string | null;
  /** What the route's filters set (FilterConn): variables, an upstream of their choice, pipe limits, own state. */
  vars: Map<string, string> | null;
  upstream: CompiledUpstream | null;
  throttle: ConnThrottle | null;
  state: Record<string, unknown> | null;
}

export class TcpSession extends UpstreamDial implements ConnInfo, PipeOptions, FilterConn, ProxyPrefixSource {
  /** The connection id (src/proxy/session/conn-id.ts). */
  readonly id = nextConnectionId();
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
  /**
   * PipeOptions: read once when the pipe starts. Null when connect() wrote the prefix already (a TLS upstream:
   * the header must precede the handshake).
   */
  get upstreamPrefix(): Uint8Array | null {
    const x = this.extra;
    return x === null || sendsTlsToNode(this.upstream!, this) ? null : x.upstreamPrefix;
  }
  /** ConnInfo: the peer whose PROXY header named the client, for the access log; null on the plain path. */
  get proxyPeer(): string | null {
    const x = this.extra;
    return x === null || x.clientAddr === null ? null : formatHostPort(this.client.remoteAddress, this.client.remotePort);
  }
  /** ProxyPrefixSource: the PROXY header that came in. */
  get incoming(): ProxyHeader | null {
    return this.extra === null ? null : this.extra.header;
  }
  /** ProxyPrefixSource: the matched route's id. */
  get routeId(): string {
    return this.matched!.id;
  }

  /** The id as the access log and a unique_id TLV show it. */
  connectionId(): string {
    return connectionIdText(this.id);
  }
  /**
   * PipeOptions: ewma (a balancer that observes latency) has the pipe time the first reply after the first
   * client byte; other balancers ask for nothing and pay nothing. Read once when the pipe starts.
   */
  get timeReply(): boolean {
    return this.upstream!.balancer.observe !== undefined;
  }
  /** PipeOptions: the node answered `ms` after the client's first bytes went to it: ewma's latency sample. */
  replyLatency(ms: number): void {
    this.upstream!.balancer.observe?.(this.current!, ms, true);
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
    return (this.extra ??= {
      sni: null, tls: undefined, clientAddr: null, clientPort: 0, upstreamPrefix: null, header: null, sendHeader: false, endAs: null, endNote: null,
      vars: null, upstream: null, throttle: null, state: null,
    });
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

  /** The prelude read a PROXY header: its source (an IP one) becomes the client; its TLVs may be passed on. */
  setProxyHeader(header: ProxyHeader): void {
    this.ensureExtra().header = header;
    const src = header.source;
    if (src !== null && (header.family === 'ipv4' || header.family === 'ipv6')) this.setClient(src.addr, src.port);
  }

  /** The listener sends a PROXY header to the upstream (proxy_protocol_to_upstream). */
  sendProxyHeader(): void {
    this.ensureExtra().sendHeader = true;
  }

  /** Write these bytes to the node before the client's (the connect phase's PROXY header). */
  setUpstreamPrefix(bytes: Uint8Array | null): void {
    if (bytes === null && this.extra === null) return;
    this.ensureExtra().upstreamPrefix = bytes;
  }

  /**
   * The reason the record will give once the running pipe ends (set before weir cuts it: an admin's close,
   * a session policy), with its explanation.
   */
  endAs(reason: EndReason, note: string | null = null): void {
    const x = this.ensureExtra();
    x.endAs = reason;
    x.endNote = note;
  }

  /**
   * Connect phase. `now`: Date.now() when the caller has just read it (a plain accept), else undefined.
   * A PROXY header, when the upstream or the listener asks for one, is written once here and sent on every
   * connect attempt; without one this reads two fields and nothing else.
   */
  dial(ports: DialPorts, upstream: CompiledUpstream, now: number | undefined): void {
    const x = this.extra;
    const plan = tcpPlanOf(upstream, x !== null && x.sendHeader);
    if (plan !== null) {
      this.ensureExtra(); // first: a unique_id TLV's connection id must be kept for the record
      const tls = terminatedTls(plan, ports.plane, this.client, this.tls === 'terminated');
      this.setUpstreamPrefix(writeTcpProxyPrefix(plan, this, tls));
    }
    this.startDial(ports, upstream, now);
  }

  /** UpstreamDial: the prefix goes to connect() for a TLS upstream (before its handshake), else to the pipe. */
  protected override connectPrefix(): Uint8Array | null {
    return this.extra === null ? null : this.extra.upstreamPrefix;
  }

  protected dialInfo(): ConnInfo {
    return this;
  }

  protected override timesReply(): boolean {
    return true;
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
