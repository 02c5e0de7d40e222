// One UDP session's state (a client on a listener, its node and upstream socket, counters) and its access record.

import { formatHostPort } from '../../lib/ip';
import type { AccessRecord } from '../../log/logger';
import type { UdpListener, UdpUpstream } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo, UpstreamNode } from '../../snapshot/types';
import { SessionEntry } from './sessions';

/** Why a session ended, as written to the access log. */
export type SessionEnd =
  | 'idle_timeout' // no datagram either way for the upstream's idle timeout
  | 'responses' // proxy_responses replies per client datagram were relayed
  | 'evicted' // the session table was full
  | 'upstream_refused' // ICMP port / host unreachable from the node
  | 'shutdown' // ended while draining: answered, or quiet for a moment
  | 'aborted'; // still open when the shutdown grace period ran out

/** One client's conversation through one listener, created on its first datagram. */
export class Session extends SessionEntry {
  upstream: UdpUpstream<Session> | null = null;
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

/** The access-log line of an ended session. Runs once per session. */
export function sessionRecord(s: Session, end: SessionEnd, now: number, error?: string): AccessRecord {
  return {
    protocol: 'udp',
    route: s.route.id,
    client: formatHostPort(s.info.remoteAddr, s.info.remotePort),
    server: formatHostPort(s.info.serverAddr, s.info.serverPort),
    upstream: s.node.address,
    bytes_from_client: s.bytesFromClient,
    bytes_to_client: s.bytesToClient,
    datagrams_from_client: s.datagramsFromClient,
    datagrams_to_client: s.datagramsToClient,
    duration_ms: now - s.startedAt,
    end,
    ...(error === undefined ? {} : { error }),
  };
}
