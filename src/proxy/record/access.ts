// The record phase: one access-log record per connection or UDP session, with its typed end reason.
// TCP and UDP write through the same recorder; metrics (plugins issue) will read the same record.

import { formatHostPort } from '../../lib/ip';
import type { AccessLog, AccessRecord } from '../../log/logger';
import type { CompiledRoute, ConnInfo, UpstreamNode } from '../../snapshot/types';
import type { EndReason } from '../session/end-reason';
import { connectionIdText } from '../session/conn-id';

/** What a UDP session reports when it ends. */
export interface SessionTotals {
  readonly info: ConnInfo;
  readonly route: CompiledRoute;
  /** null when the session ended before a node was picked (its filters refused it, or were still deciding). */
  readonly node: UpstreamNode | null;
  readonly startedAt: number;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly datagramsFromClient: number;
  readonly datagramsToClient: number;
  /** The peer whose PROXY headers named the client; null when none did. */
  readonly proxyPeer: string | null;
}

/** A record with every field in log order; UDP's also counts datagrams. `error` stays last (left out when undefined). */
function blankRecord(protocol: 'tcp' | 'udp'): AccessRecord {
  const datagrams = protocol === 'udp' ? { datagrams_from_client: 0, datagrams_to_client: 0 } : {};
  // proxy_peer stays undefined (left out of the line) unless a PROXY header named the client
  return {
    id: '', protocol, route: null, client: '', proxy_peer: undefined, server: '', upstream: null,
    bytes_from_client: 0, bytes_to_client: 0, ...datagrams, duration_ms: 0, end: 'closed', error: undefined,
  };
}

/**
 * Writes access records. AccessLog.write() encodes a record before it returns, so one record object per
 * protocol serves every connection: no allocation per connection beyond the formatted client address.
 */
export class AccessRecorder {
  private readonly tcpRec = blankRecord('tcp');
  private readonly udpRec = blankRecord('udp');
  /** The listener address as logged: a proxy has few, so the last one's text is kept. */
  private lastServerAddr = '';
  private lastServerPort = -1;
  private lastServerText = '';

  constructor(private readonly log: AccessLog) {}

  /** False when the access log is off: callers skip building anything. */
  get enabled(): boolean {
    return this.log.enabled;
  }

  /**
   * A TCP connection is over (or was refused before any upstream); also a UDP client refused before its
   * session opened (the record then has no datagram counts). Runs once per connection.
   */
  connection(
    info: ConnInfo,
    route: CompiledRoute | null,
    node: UpstreamNode | null,
    startedAt: number,
    fromClient: number,
    toClient: number,
    end: EndReason,
    error?: string,
  ): void {
    if (!this.log.enabled) return;
    const rec = this.tcpRec;
    rec.id = connectionIdText(info.id ?? 0);
    rec.protocol = info.protocol;
    rec.route = route === null ? null : route.id;
    rec.client = formatHostPort(info.remoteAddr, info.remotePort);
    rec.proxy_peer = info.proxyPeer ?? undefined;
    rec.server = this.serverText(info.serverAddr, info.serverPort);
    rec.upstream = node === null ? null : node.address;
    rec.bytes_from_client = fromClient;
    rec.bytes_to_client = toClient;
    rec.duration_ms = Date.now() - startedAt;
    rec.end = end;
    rec.error = error;
    this.log.write(rec);
    rec.id = '';
    rec.client = '';
    rec.proxy_peer = undefined;
    rec.error = undefined;
  }

  /** A UDP session is over. Runs once per session. */
  session(s: SessionTotals, end: EndReason, now: number, error?: string): void {
    if (!this.log.enabled) return;
    const rec = this.udpRec;
    rec.id = connectionIdText(s.info.id ?? 0);
    rec.route = s.route.id;
    rec.client = formatHostPort(s.info.remoteAddr, s.info.remotePort);
    rec.proxy_peer = s.proxyPeer ?? undefined;
    rec.server = this.serverText(s.info.serverAddr, s.info.serverPort);
    rec.upstream = s.node === null ? null : s.node.address;
    rec.bytes_from_client = s.bytesFromClient;
    rec.bytes_to_client = s.bytesToClient;
    rec.datagrams_from_client = s.datagramsFromClient;
    rec.datagrams_to_client = s.datagramsToClient;
    rec.duration_ms = now - s.startedAt;
    rec.end = end;
    rec.error = error;
    this.log.write(rec);
    rec.id = '';
    rec.client = '';
    rec.proxy_peer = undefined;
    rec.error = undefined;
  }

  private serverText(addr: string, port: number): string {
    if (port !== this.lastServerPort || addr !== this.lastServerAddr) {
      this.lastServerAddr = addr;
      this.lastServerPort = port;
      this.lastServerText = formatHostPort(addr, port);
    }
    return this.lastServerText;
  }
}
