// The listeners every socket of the node:net plane carries (error, close, end, drain), one function
// each for all sockets: they read the socket's Side and hand the event to the stage it is in
// (preread, dial, pair). 'data' listeners belong to the stages themselves.

import type net from 'node:net';
import { errorKind, failDial } from './dial';
import { finishWrites, onDrain } from './pair';
import { endPreread } from './preread';
import { kSide, type WeirSocket } from './side';

/** A FIN arrived: pass it on; the other direction keeps flowing (allowHalfOpen). */
function onEnd(this: WeirSocket): void {
  const side = this[kSide];
  if (side.pre !== null) return endPreread(side, 'eof');
  const pair = side.pair;
  if (pair === null) return;
  const peer = pair.peerOf(side);
  if (!peer.closed) finishWrites(peer.socket);
}

function onError(this: WeirSocket, err: Error): void {
  const side = this[kSide];
  side.error ??= err;
  if (side.pre !== null) return endPreread(side, 'error');
  if (side.dialDone !== null && side.tlsHandshaking) return failDial(side, 'tls', err);
  if (side.dialDone !== null) return failDial(side, errorKind((err as NodeJS.ErrnoException).code), err);
  if (side.pair !== null) side.pair.fail(side.isClient ? 'client_error' : 'upstream_error', err.message);
}

function onClose(this: WeirSocket): void {
  const side = this[kSide];
  side.closed = true;
  if (side.pre !== null) endPreread(side, 'eof');
  if (side.dialDone !== null) {
    failDial(side, 'other', side.error ?? new Error('socket closed before the connection was established'));
  }
  if (side.pair !== null) side.pair.sideClosed(side);
}

/** Attach the shared listeners; the socket must carry its Side already. */
export function wire(socket: net.Socket): void {
  socket.on('error', onError);
  socket.on('close', onClose);
  socket.on('end', onEnd);
  socket.on('drain', onDrain);
}

/** Undo wire(): TLS termination moves these listeners from the raw socket to the TLS one. */
export function unwire(socket: net.Socket): void {
  socket.off('error', onError);
  socket.off('close', onClose);
  socket.off('end', onEnd);
  socket.off('drain', onDrain);
}
