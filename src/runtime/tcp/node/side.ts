// Per-socket state of the node:net data plane. Every socket carries its Side in a symbol slot, so the
// stage modules (preread, TLS, dial, pair) share plain handler functions instead of closures per connection.

import type net from 'node:net';
import type { ConnectError, InboundConn, OutboundConn, TlsAcceptError, TlsAccepted } from '../../types';
import type { Pair } from './pair';
import type { Preread } from './preread';

export const kSide = Symbol('weir.side');
export type WeirSocket = net.Socket & { [kSide]: Side };

/** State of one socket: which pair it belongs to, whether it closed, its first error. */
export class Side {
  pair: Pair | null = null;
  closed = false;
  error: Error | null = null;
  /** Outbound only: the connect() callback until it has been called; the connect timer. */
  dialDone: ((err: ConnectError | null, conn: OutboundConn | null) => void) | null = null;
  dialTimer: NodeJS.Timeout | null = null;
  /** Outbound TLS: TCP is up, the handshake is running (its failures are kind 'tls'). */
  tlsHandshaking = false;
  /** Inbound: a running preread, or a running startTls. */
  pre: Preread | null = null;
  tlsDone: ((err: TlsAcceptError | null, info: TlsAccepted | null) => void) | null = null;
  tlsTimer: NodeJS.Timeout | null = null;
  tlsDepth = 0;
  constructor(
    /** Replaced by the TLS socket once startTls() succeeds. */
    public socket: WeirSocket,
    readonly isClient: boolean,
  ) {
    socket[kSide] = this;
  }
}

export class NodeInbound extends Side implements InboundConn {
  constructor(
    socket: WeirSocket,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly localAddress: string,
    readonly localPort: number,
  ) {
    super(socket, true);
  }
}

export class NodeOutbound extends Side implements OutboundConn {
  remoteAddress: string;
  constructor(
    socket: WeirSocket,
    host: string,
    readonly remotePort: number,
  ) {
    super(socket, false);
    this.remoteAddress = host;
  }
}
