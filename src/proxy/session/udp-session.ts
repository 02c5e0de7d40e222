// One UDP session's record: a client on a listener, its route, node and upstream socket, and its counters.

import type { UdpListener, UdpUpstream } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo, UpstreamNode } from '../../snapshot/types';
import type { FilterConn } from '../filter/types';
import type { SessionTotals } from '../record/access';
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
}

/** A new client's facts, as the UDP flow builds them for match, filters and balance. */
export interface UdpConnInfo extends ConnInfo {
  vars: Map<string, string> | null;
}

/**
 * What a route's filters see of a new UDP client (one per new session of a route with filters). Variables
 * go into the client's ConnInfo, where the balancer reads them. No preread: the datagram is the whole message.
 */
export class UdpFilterConn implements FilterConn {
  constructor(
    readonly info: UdpConnInfo,
    readonly route: CompiledRoute,
  ) {}
  getVar(name: string): string | undefined {
    return this.info.vars?.get(name);
  }
  setVar(name: string, value: string): void {
    (this.info.vars ??= new Map()).set(name, value);
  }
}
