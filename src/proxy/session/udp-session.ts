// One UDP session's record: a client on a listener, its route, node and upstream socket, and its counters.

import type { UdpListener, UdpUpstream } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo, UpstreamNode } from '../../snapshot/types';
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
