// One UDP session's record: a client on a listener, its route, node and upstream socket, and its counters.
// It is also what the route's filters see (FilterConn); a session whose filters decide later (limit-conn's
// delay) waits in the table with its first datagrams held (HeldDatagrams) instead of an upstream socket.

import type { UdpListener, UdpUpstream } from '../../runtime/types';
import type { CompiledRoute, CompiledUpstream, ConnInfo, UpstreamNode } from '../../snapshot/types';
import type { ConnThrottle, FilterConn } from '../filter/types';
import type { SessionTotals } from '../record/access';
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
  /** FilterConn: a datagram session has no byte stream to peek at. */
  preread(): boolean {
    return false;
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
