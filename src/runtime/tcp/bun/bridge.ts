// A proxied pair where one side is a node:net/node:tls socket (TLS termination or upstream TLS, which the Bun
// plane hands to the node plane in tcp/node/) and the other a Bun-native socket. The node socket is wrapped so that
// it looks like a Bun socket (write() takes bytes or says it cannot, shutdown(), pause()...), and its events are fed
// to the same handlers, so the byte pump, half-close and accounting are the ones of pair.ts.

import type { Socket } from 'node:net';
import type { BunTcpSocket } from '../../bun/api';
import type { BunSide } from './pair';

/** The handlers of plane.ts that drive a pair (passed in: no import cycle). */
export interface PumpHandlers {
  data(s: BunTcpSocket<BunSide>, chunk: Buffer): void;
  drain(s: BunTcpSocket<BunSide>): void;
  end(s: BunTcpSocket<BunSide>): void;
  close(s: BunTcpSocket<BunSide>, err?: Error): void;
}

/** node:net socket behind the BunTcpSocket surface the pair code uses. */
class NodeAsBun implements BunTcpSocket<BunSide> {
  /** write() returned false: take nothing more until 'drain' (so the reading side gets paused). */
  full = false;
  constructor(
    readonly sock: Socket,
    public data: BunSide,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {}
  get localAddress(): string {
    return this.sock.localAddress ?? '';
  }
  get localPort(): number {
    return this.sock.localPort ?? 0;
  }
  write(chunk: Uint8Array): number {
    if (this.sock.destroyed) return -1;
    if (this.full) return 0;
    if (!this.sock.write(chunk)) this.full = true;
    return chunk.length;
  }
  shutdown(): void {
    if (!this.sock.writableEnded) this.sock.end();
  }
  end(): void {
    // both directions are done: flush, then close (a TLS socket would otherwise sit in CLOSE_WAIT)
    if (!this.sock.writableEnded) this.sock.end();
    this.sock.destroySoon();
  }
  terminate(): void {
    this.sock.destroy();
  }
  pause(): void {
    this.sock.pause();
  }
  resume(): void {
    this.sock.resume();
  }
  setNoDelay(on: boolean): boolean {
    this.sock.setNoDelay(on);
    return true;
  }
  upgradeTLS(): never {
    // a bridged node connection is TLS already (or plain on purpose); startTls() never reaches it here
    throw new Error('ERR_TLS_PLANE: upgradeTLS() on a bridged node:net connection');
  }
}

/**
 * Wrap a node connection as one side of a Bun pair; `sock` is its socket as the node plane hands it out
 * (NodeTcpPlane.socketOf). Its listeners are added once; the node plane's own listeners stay and do nothing for a
 * connection it does not pipe.
 */
export function adoptNodeSide<S extends BunSide>(conn: { remoteAddress: string; remotePort: number }, sock: Socket, side: S, h: PumpHandlers): S {
  const wrapped = new NodeAsBun(sock, side, conn.remoteAddress, conn.remotePort);
  side.socket = wrapped;
  side.paused = true; // the node plane holds reads back until pipe(), which resumes it
  if (sock.destroyed) side.closed = true;
  let error: Error | undefined;
  sock.on('data', (chunk: Buffer) => h.data(wrapped, chunk));
  sock.on('drain', () => {
    wrapped.full = false;
    h.drain(wrapped);
  });
  sock.on('end', () => h.end(wrapped));
  sock.on('error', (err: Error) => (error ??= err));
  sock.on('close', () => h.close(wrapped, error));
  return side;
}
