// One UDP session's record: a client on a listener, its route, node and upstream socket, and its counters.
// It is also what the route's filters see (FilterConn); a session whose filters decide later (limit-conn's
// delay) waits in the table with its first datagrams held (HeldDatagrams) instead of an upstream socket.
// A session with PROXY protocol in either direction is a ProxiedUdpSession (below): the plain one keeps no
// field for it, and its per-datagram path is the same two calls it always was.

import { formatHostPort } from '../../lib/ip';
import type { UdpListener, UdpUpstream } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo, UpstreamNode } from '../../snapshot/types';
import type { ProxyPrefixSource } from '../connect/proxy-prefix';
import type { ProxyHeader } from '../prelude/proxy-protocol-types';
import type { ConnThrottle, FilterConn } from '../filter/types';
import type { SessionTotals } from '../record/access';
import { connectionIdText } from './conn-id';
import { SessionEntry } from './udp-table';

/** What the filters set on a session; allocated only for routes with filters. */
export interface UdpFilterState {
  vars: Map<string, string> | null;
  upstream: CompiledUpstream | null;
  throttle: ConnThrottle | null;
  state: Record<string, unknown> | null;
}

/** One client's conversation through one listener, created on its first datagram. */
export class UdpSession extends SessionEntry implements SessionTotals, FilterConn {
  /** The connected socket to the node; a HeldDatagrams while the filters decide. */
  upstream: UdpUpstream<UdpSession> | null = null;
  /** Set once a node was picked (null while filters decide, or when they refused). */
  up: CompiledUpstream | null = null;
  node: UpstreamNode | null = null;
  datagramsFromClient = 0;
  bytesFromClient = 0;
  datagramsToClient = 0;
  bytesToClient = 0;
  /** Ended (evicted, shutdown) while its filters were still deciding. */
  aborted = false;
  filters: UdpFilterState | null = null;
  constructor(
    scope: number,
    readonly listener: UdpListener,
    readonly info: ConnInfo,
    readonly route: CompiledRoute,
    idleMs: number,
    readonly startedAt: number,
  ) {
    super(scope, info.remoteAddr, info.remotePort, idleMs);
  }

  /** Every client datagram has had at least one reply: nothing is outstanding. */
  answered(): boolean {
    return this.datagramsToClient >= this.datagramsFromClient;
  }

  /** A client datagram to the node (or to the datagrams held while the filters decide). */
  forward(data: Uint8Array): void {
    this.upstream!.send(data);
  }

  /** A reply of the node to the client, from the listener's socket. */
  reply(data: Uint8Array): void {
    this.listener.send(data, this.info.remoteAddr, this.info.remotePort);
  }

  get proxyPeer(): string | null {
    return null;
  }

  /** The id as the access log and a unique_id TLV show it. */
  connectionId(): string {
    return connectionIdText(this.info.id ?? 0);
  }

  private ensureFilters(): UdpFilterState {
    return (this.filters ??= { vars: null, upstream: null, throttle: null, state: null });
  }

  // FilterConn
  getVar(name: string): string | undefined {
    return this.filters?.vars?.get(name);
  }
  setVar(name: string, value: string): void {
    (this.ensureFilters().vars ??= new Map()).set(name, value);
  }
  setUpstream(upstream: CompiledUpstream): void {
    this.ensureFilters().upstream = upstream;
  }
  setThrottle(throttle: ConnThrottle): void {
    this.ensureFilters().throttle = throttle;
  }
  getState(filter: string): unknown {
    return this.filters?.state?.[filter];
  }
  setState(filter: string, value: unknown): void {
    (this.ensureFilters().state ??= {})[filter] = value;
  }
}

/**
 * A session on a proxy_protocol listener (the client came from the header; replies go back to the peer that
 * sent it, the proxy in front) or to an upstream that gets a v2 header in front of every datagram.
 */
export class ProxiedUdpSession extends UdpSession implements ProxyPrefixSource {
  /** Where replies go: the proxy in front (its latest address), or null to answer the client itself. */
  peerAddr: string | null = null;
  peerPort = 0;
  /** The v2 header every datagram to the node starts with (written once per session), or null. */
  prefix: Uint8Array | null = null;
  constructor(
    scope: number,
    listener: UdpListener,
    info: ConnInfo,
    route: CompiledRoute,
    idleMs: number,
    startedAt: number,
    /** The first datagram's PROXY header (its TLVs and destination are passed on), or null. */
    readonly incoming: ProxyHeader | null,
  ) {
    super(scope, listener, info, route, idleMs, startedAt);
  }

  override forward(data: Uint8Array): void {
    const prefix = this.prefix;
    if (prefix === null) return this.upstream!.send(data);
    // one fresh buffer per datagram: the planes may queue what they are given (see UdpUpstream.send)
    const out = new Uint8Array(prefix.length + data.length);
    out.set(prefix);
    out.set(data, prefix.length);
    this.upstream!.send(out);
  }

  override reply(data: Uint8Array): void {
    if (this.peerAddr === null) return super.reply(data);
    this.listener.send(data, this.peerAddr, this.peerPort);
  }

  override get proxyPeer(): string | null {
    return this.peerAddr === null ? null : formatHostPort(this.peerAddr, this.peerPort);
  }

  // ProxyPrefixSource
  get remoteAddr(): string {
    return this.info.remoteAddr;
  }
  get remotePort(): number {
    return this.info.remotePort;
  }
  get serverAddr(): string {
    return this.info.serverAddr;
  }
  get serverPort(): number {
    return this.info.serverPort;
  }
  get sni(): null {
    return null;
  }
  get routeId(): string {
    return this.route.id;
  }
}

/** At most this many datagrams, and this many bytes, wait for a session's filters; later ones are dropped. */
export const HELD_DATAGRAMS_MAX = 32;
export const HELD_BYTES_MAX = 64 * 1024;

/**
 * Stands in for the upstream socket while a session's filters decide: sends are copied and kept, within
 * HELD_DATAGRAMS_MAX and HELD_BYTES_MAX (UDP may drop; memory stays bounded whatever the client sends).
 * The flow sends them on once the session is admitted, or forgets them when it is refused.
 */
export class HeldDatagrams implements UdpUpstream<UdpSession> {
  readonly held: Uint8Array[] = [];
  bytes = 0;
  dropped = 0;
  readonly remoteAddress = '';
  readonly remotePort = 0;
  constructor(readonly context: UdpSession) {}

  send(data: Uint8Array): void {
    if (this.held.length >= HELD_DATAGRAMS_MAX || this.bytes + data.byteLength > HELD_BYTES_MAX) {
      this.dropped++;
      return;
    }
    this.held.push(data.slice()); // `data` is only valid during the listener's callback
    this.bytes += data.byteLength;
  }

  close(): void {
    this.held.length = 0;
    this.bytes = 0;
  }
}
