// Preread on node:net (TLS and PROXY protocol listeners): look at the client's first bytes (a PROXY header,
// the ClientHello) without consuming them. The bytes are put back on the socket before every callback, so
// whatever the callback starts next (pipe, TLS termination) reads them first; consume() takes some of them
// off again (the PROXY header, which must not reach the upstream or the TLS handshake).

import { kSide, type Side, type WeirSocket } from './side';
import type { PrereadCallback, PrereadState } from '../../types';

const EMPTY = new Uint8Array(0);

/** A running preread: bytes so far (also queued back on the socket before every callback). */
export class Preread {
  buf: Buffer | null = null;
  /** Parked bytes that come back as 'data' after a resume: skipped, they are in `buf` already. */
  replay = 0;
  timer: NodeJS.Timeout | null = null;
  constructor(
    readonly max: number,
    readonly cb: PrereadCallback,
  ) {}
}

/** Stop reading and put the bytes back, so whatever the callback starts (pipe, TLS) sees them first. */
function park(side: Side, pre: Preread): void {
  side.socket.off('data', onPrereadData);
  side.socket.pause();
  if (pre.buf !== null && pre.buf.length > 0) side.socket.unshift(pre.buf);
}

function onPrereadData(this: WeirSocket, chunk: Buffer): void {
  const side = this[kSide];
  const pre = side.pre;
  if (pre === null) return;
  if (pre.replay > 0) {
    if (chunk.length <= pre.replay) {
      pre.replay -= chunk.length;
      return;
    }
    chunk = chunk.subarray(pre.replay);
    pre.replay = 0;
  }
  pre.buf = pre.buf === null || pre.buf.length === 0 ? chunk : Buffer.concat([pre.buf, chunk]);
  park(side, pre);
  // every chunk is shown before 'full' is decided: a PROXY header and the client's first bytes may share one
  if (pre.cb(pre.buf, 'data')) {
    if (side.pre === pre) side.pre = null;
    if (pre.timer !== null) clearTimeout(pre.timer);
    return;
  }
  if (side.pre !== pre || side.closed) return;
  if (pre.buf.length >= pre.max) return finish(side, pre, 'full'); // parked already
  // Wait for more: the parked bytes come back first as 'data'; skip them.
  pre.replay = pre.buf.length;
  this.on('data', onPrereadData);
  this.resume();
}

/** Report a final state on bytes already parked. */
function finish(side: Side, pre: Preread, state: PrereadState): void {
  side.pre = null;
  if (pre.timer !== null) clearTimeout(pre.timer);
  pre.cb(pre.buf ?? EMPTY, state);
}

/**
 * Report a final state and stop. Runs from the plane's shared end/error/close listeners and the
 * timer; a no-op when no preread is running.
 */
export function endPreread(side: Side, state: PrereadState): void {
  const pre = side.pre;
  if (pre === null) return;
  // between callbacks the parked bytes are replayed at once (resume() flows them within one tick), so
  // here they are all in `buf` again and none is left on the socket
  if (!side.closed) park(side, pre);
  finish(side, pre, state);
}

function onPrereadTimeout(side: Side): void {
  endPreread(side, 'timeout');
}

/** preread(): start reading a paused, accepted socket; a dead one reports 'error' or 'eof' at once. */
export function startPreread(side: Side, maxBytes: number, timeoutMs: number, cb: PrereadCallback): void {
  if (side.closed || side.error !== null) {
    queueMicrotask(() => cb(EMPTY, side.error !== null ? 'error' : 'eof'));
    return;
  }
  side.pre = new Preread(maxBytes, cb);
  side.pre.timer = setTimeout(onPrereadTimeout, timeoutMs, side);
  side.socket.on('data', onPrereadData);
  side.socket.resume();
}

/**
 * consume(): drop the first `bytes` of the preread bytes. They are parked on the socket (before every
 * callback, and after the preread ended), so they are read off it here, and the running preread's view
 * starts after them. read() on a paused socket returns them without flowing anything to a listener.
 */
export function consumePreread(side: Side, bytes: number): void {
  if (bytes <= 0 || side.closed) return;
  side.socket.read(bytes);
  const pre = side.pre;
  if (pre !== null && pre.buf !== null) pre.buf = pre.buf.subarray(Math.min(bytes, pre.buf.length));
}
