// Dialling upstreams with Bun.connect: the outbound side, its connect timeout (one DeadlineQueue per timeout value,
// kept by the plane) and the errors sorted into the kinds the retry logic uses; the callback is called exactly
// once. The plane's shared handlers (plane.ts) take over the socket once it is open.

import type { BunTcpSocket } from '../../bun/api';
import type { Deadlined, DeadlineQueue } from '../../../lib/deadline-queue';
import { BunSide } from './pair';
import type { ConnectError, ConnectErrorKind, OutboundConn } from '../../types';

/** An upstream connection of the Bun plane, from connect() on. */
export class BunOutbound extends BunSide implements OutboundConn, Deadlined {
  /** The connect() callback until it has been called. */
  dialDone: ((err: ConnectError | null, conn: OutboundConn | null) => void) | null = null;
  /** The connect timeout this dial waits in (null once settled). */
  dialQueue: DeadlineQueue<BunOutbound> | null = null;
  deadline = 0;
  slot = 0;
  constructor(
    readonly host: string,
    readonly remotePort: number,
  ) {
    super(false);
  }
  /** Asked of the socket only when someone wants it (a getpeername each time in Bun); the host otherwise. */
  get remoteAddress(): string {
    return (this.socket !== null && !this.closed && this.socket.remoteAddress) || this.host;
  }
}

/** The kind of a connect failure, from the socket error's code. */
export function errorKind(code: string | undefined): ConnectErrorKind {
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'unreachable';
  if (code === 'ETIMEDOUT') return 'timeout';
  return 'other';
}

/** End a running dial with an error (only while side.dialDone is set): drop the socket, call back once. */
export function failDial(side: BunOutbound, kind: ConnectErrorKind, err: Error & { code?: string }): void {
  const done = side.dialDone!;
  side.dialDone = null;
  settleDial(side);
  if (side.socket !== null && !side.closed) side.socket.terminate();
  const code = err.code ?? (kind === 'timeout' ? 'ETIMEDOUT' : 'ERR_CONNECT');
  done({ kind, code, message: err.message }, null);
}

/** The dial is over (open, error, timeout or destroy): it leaves its timeout queue. */
export function settleDial(side: BunOutbound): void {
  if (side.dialQueue !== null) side.dialQueue.remove(side);
  side.dialQueue = null;
}

/** The dial's DeadlineQueue expired it. */
export function onDialTimeout(side: BunOutbound): void {
  if (side.dialDone === null) return;
  const timeoutMs = side.dialQueue!.ms;
  const msg = `connect to ${side.host}:${side.remotePort} timed out after ${timeoutMs} ms`;
  // Bun.connect cannot be cancelled before it opens: a late open is terminated in onOutboundOpen
  failDial(side, 'timeout', Object.assign(new Error(msg), { code: 'ETIMEDOUT' }));
}

/** Bun's `open` for an outbound socket: the dial succeeded (or is too late, and the socket is dropped). */
export function onOutboundOpen(s: BunTcpSocket<BunSide>): void {
  const side = s.data as BunOutbound;
  side.socket = s;
  const done = side.dialDone;
  if (done === null) return s.terminate(); // timed out or destroyed while dialling
  // not paused: pipe() normally runs inside done(); if it does not, a first chunk waits in `early`
  side.dialDone = null;
  settleDial(side);
  done(null, side);
}

/** Bun's `connectError`: refused, unreachable, ... before the socket ever opened. */
export function onConnectError(s: BunTcpSocket<BunSide>, err: Error & { code?: string }): void {
  const side = s.data as BunOutbound;
  side.closed = true;
  if (side.dialDone !== null) failDial(side, errorKind(err.code), err);
}
