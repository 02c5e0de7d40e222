// Preread on node:net (TLS listeners): look at the client's first bytes (the ClientHello) without
// consuming them. The bytes are put back on the socket before every callback, so whatever the callback
// starts next (pipe, TLS termination) reads them first.

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
  if (pre.buf !== null) side.socket.unshift(pre.buf);
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
  pre.buf = pre.buf === null ? chunk : Buffer.concat([pre.buf, chunk]);
  if (pre.buf.length >= pre.max) return endPreread(side, 'full');
  park(side, pre);
  if (pre.cb(pre.buf, 'data')) {
    if (side.pre === pre) side.pre = null;
    if (pre.timer !== null) clearTimeout(pre.timer);
    return;
  }
  if (side.pre !== pre || side.closed) return;
  // Wait for more: the parked bytes come back first as 'data'; skip them.
  pre.replay = pre.buf.length;
  this.on('data', onPrereadData);
  this.resume();
}

/**
 * Report a final state and stop. Runs from the plane's shared end/error/close listeners and the
 * timer; a no-op when no preread is running.
 */
export function endPreread(side: Side, state: PrereadState): void {
  const pre = side.pre;
  if (pre === null) return;
  side.pre = null;
  if (pre.timer !== null) clearTimeout(pre.timer);
  if (!side.closed) park(side, pre);
  pre.cb(pre.buf ?? EMPTY, state);
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
