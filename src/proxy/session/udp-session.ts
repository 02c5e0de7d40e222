// One UDP session's record: a client on a listener, its route, node and upstream socket, and its counters.
// A session with PROXY protocol in either direction is a ProxiedUdpSession (below): the plain one keeps no
// field for it, and its per-datagram path is the same two calls it always was.

import { formatHostPort } from '../../lib/ip';
import type { UdpListener, UdpUpstream } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo, UpstreamNode } from '../../snapshot/types';
import type { ProxyPrefixSource } from '../connect/proxy-prefix';
import type { ProxyHeader } from '../prelude/proxy-protocol-types';
import type { SessionTotals } from '../record/access';
import { connectionIdText } from './conn-id';
import { SessionEntry } from './udp-table';

/** One client's conversation through one listener, created on its first datagram. */
export class UdpSession extends SessionEntry implements SessionTotals {
  upstream: UdpUpstream<UdpSession> | null = null;
  datagramsFromClient = 0;
  bytesFromClient = 0;
  datagramsToClient = 0;
  bytesToClient = 0;
  constructor(
    scope: number,
    readonly listener: UdpListener,
    readonly info: ConnInfo,
    readonly route: CompiledRoute,
    readonly up: CompiledUpstream,
    readonly node: UpstreamNode,
    readonly startedAt: number,
  ) {
    super(scope, info.remoteAddr, info.remotePort, up.idleTimeoutMs);
  }

  /** Every client datagram has had at least one reply: nothing is outstanding. */
  answered(): boolean {
    return this.datagramsToClient >= this.datagramsFromClient;
  }

  /** A client datagram to the node. */
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
    up: CompiledUpstream,
    node: UpstreamNode,
    startedAt: number,
    /** The first datagram's PROXY header (its TLVs and destination are passed on), or null. */
    readonly incoming: ProxyHeader | null,
  ) {
    super(scope, listener, info, route, up, node, startedAt);
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
