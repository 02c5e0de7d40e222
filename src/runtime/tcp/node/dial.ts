// Dialling upstreams on node:net and node:tls: one connect timer per attempt, errors sorted into the
// kinds the retry logic uses, and the callback called exactly once. The plane attaches its shared
// listeners (wire) to the socket these functions return.

import net from 'node:net';
import tls from 'node:tls';
import { clientContextFor } from './tls-context';
import { kSide, NodeOutbound, type Side, type WeirSocket } from './side';
import { unwire, wire } from './events';
import type { ConnectError, ConnectErrorKind, OutboundConn, TlsConnectOptions } from '../../types';

type DialDone = (err: ConnectError | null, conn: OutboundConn | null) => void;

export function errorKind(code: string | undefined): ConnectErrorKind {
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'unreachable';
  if (code === 'ETIMEDOUT') return 'timeout';
  return 'other';
}

/** End a running dial with an error. Only call while side.dialDone is set. */
export function failDial(side: Side, kind: ConnectErrorKind, err: Error): void {
  const done = side.dialDone!;
  side.dialDone = null;
  if (side.dialTimer !== null) clearTimeout(side.dialTimer);
  side.socket.destroy();
  const code = (err as NodeJS.ErrnoException).code ?? (kind === 'timeout' ? 'ETIMEDOUT' : 'ERR_CONNECT');
  done({ kind, code, message: err.message }, null);
}

function onConnect(this: WeirSocket): void {
  const side = this[kSide] as NodeOutbound;
  const done = side.dialDone;
  if (done === null) return;
  side.dialDone = null;
  if (side.dialTimer !== null) clearTimeout(side.dialTimer);
  side.remoteAddress = this.remoteAddress ?? side.remoteAddress;
  done(null, side);
}

function onDialTimeout(side: NodeOutbound, timeoutMs: number): void {
  if (side.dialDone === null) return;
  const err = Object.assign(
    new Error(`connect to ${side.remoteAddress}:${side.remotePort} timed out after ${timeoutMs} ms`),
    { code: 'ETIMEDOUT' },
  );
  failDial(side, 'timeout', err);
}

/** connect() without TLS. The socket stays paused until pipe(). */
export function dialTcp(host: string, port: number, timeoutMs: number, done: DialDone, prefix: Uint8Array | null = null): NodeOutbound {
  const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true }) as WeirSocket;
  socket.pause(); // no reads until pipe(): bytes the upstream sends first wait in the kernel
  const side = new NodeOutbound(socket, host, port);
  side.dialDone = done;
  side.dialTimer = setTimeout(onDialTimeout, timeoutMs, side, timeoutMs);
  // written while connecting: node queues it, and it leaves first once the connection is up
  if (prefix !== null && prefix.length > 0) socket.write(prefix);
  socket.once('connect', onConnect);
  return side;
}

/**
 * connect() with TLS: done is called after the handshake, which counts against timeoutMs. With a prefix (a
 * PROXY header) the TCP connection is made first, the prefix written on it in the clear, and TLS started
 * on the same socket after it, as nginx and HAProxy order them.
 */
export function dialTls(host: string, port: number, timeoutMs: number, done: DialDone, opts: TlsConnectOptions, prefix: Uint8Array | null = null): NodeOutbound {
  if (prefix !== null && prefix.length > 0) return dialTlsAfter(host, port, timeoutMs, done, opts, prefix);
  const socket = tls.connect({
    host,
    port,
    ...tlsOptions(opts),
    // net.Socket option, honoured by tls.connect but missing from its option type
    ...({ allowHalfOpen: true } as object),
  }) as unknown as WeirSocket;
  const side = new NodeOutbound(socket, host, port);
  side.dialDone = done;
  side.dialTimer = setTimeout(onDialTimeout, timeoutMs, side, timeoutMs);
  socket.once('connect', onTcpUp);
  socket.once('secureConnect', onConnect);
  return side;
}

function tlsOptions(opts: TlsConnectOptions): tls.ConnectionOptions {
  return { servername: opts.servername, secureContext: clientContextFor(opts.config), rejectUnauthorized: opts.config.verify };
}

function onTcpUp(this: WeirSocket): void {
  this[kSide].tlsHandshaking = true;
  this.setNoDelay(true);
}

/** The prefixed TLS dial: plain TCP first (the plane wires the raw socket), then TLS over it once the prefix is out. */
function dialTlsAfter(host: string, port: number, timeoutMs: number, done: DialDone, opts: TlsConnectOptions, prefix: Uint8Array): NodeOutbound {
  const raw = net.connect({ host, port, allowHalfOpen: true, noDelay: true }) as WeirSocket;
  const side = new NodeOutbound(raw, host, port);
  side.dialDone = done;
  side.dialTimer = setTimeout(onDialTimeout, timeoutMs, side, timeoutMs);
  raw.write(prefix); // queued until connected, then sent before anything TLS writes
  raw.once('connect', () => {
    if (side.dialDone === null) return; // timed out meanwhile
    const secure = tls.connect({ socket: raw, ...tlsOptions(opts) }) as unknown as WeirSocket;
    // the TLS socket takes over the Side and the shared listeners; the raw one only keeps an error sink
    unwire(raw);
    raw.on('error', ignoreError);
    side.socket = secure;
    secure[kSide] = side;
    side.tlsHandshaking = true;
    wire(secure);
    secure.once('secureConnect', onConnect);
  });
  return side;
}

function ignoreError(): void {}
