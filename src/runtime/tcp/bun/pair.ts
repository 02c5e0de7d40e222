// State of one proxied connection on Bun sockets: per-socket queues, half-close bookkeeping and teardown.
// Pure state transitions over BunTcpSocket calls; the event handlers that drive them are in plane.ts.

import type { BunTcpSocket } from '../../bun/api';
import type { IdleSweeper, IdleTracked } from '../../../lib/idle-sweep';
import type { Preread } from './preread';
import type { TlsStart } from './tls';
import type { PipeDone, PipeEndReason, PipeOptions, PipeResult, PipeThrottle } from '../../types';

/** A throttled pair's state (limit-bandwidth); other pairs carry null. */
export interface Throttled {
  throttle: PipeThrottle;
  /** Set while that side's reading is stopped for its rate. */
  clientTimer: ReturnType<typeof setTimeout> | null;
  upstreamTimer: ReturnType<typeof setTimeout> | null;
}

/** One socket of a pair. `queue` holds bytes waiting to be written TO this socket. */
export class BunSide {
  socket: BunTcpSocket<BunSide> | null = null;
  pair: BunPair | null = null;
  /** Chunks read before pipe() (the first one pauses the socket until pipe()), or during a preread. */
  early: Buffer[] | null = null;
  /** A running preread() (reads go to `early` and are shown to its callback). */
  preread: Preread | null = null;
  /** A running startTls() (the socket is the TLS one already; done() waits for its handshake). */
  tls: TlsStart | null = null;
  queue: Uint8Array[] | null = null;
  /** FIN received from this socket. */
  eof = false;
  /** FIN sent to this socket. */
  finSent = false;
  closed = false;
  /** Reading paused by us. Tracked because Bun's resume() is not free on a socket that is not paused. */
  paused = false;
  /** The first socket error's message. */
  error: string | null = null;
  constructor(readonly isClient: boolean) {}
}

/**
 * The client side of a proxied connection. From pipe() on it also holds the pair's state (byte counts, idle
 * tracking, why it ended), and both sides' `pair` point to it: one object per socket and none for the pair,
 * as tens of thousands of connections may be open at once.
 */
export class BunPair extends BunSide implements IdleTracked {
  /** The other side, from pipe() on. */
  upstream: BunSide | null = null;
  bytesFromClient = 0;
  bytesToClient = 0;
  activity = 0;
  seenActivity = 0;
  quietSince = 0;
  idleGroup: object | null = null;
  reason: PipeEndReason | null = null;
  /** The error message the pair ended with (the socket's own is `error`). */
  endError: string | undefined = undefined;
  finished = false;
  sweeper: IdleSweeper | null = null;
  opts: PipeOptions | null = null;
  done: PipeDone<PipeOptions> | null = null;
  /** Reply timing (opts.timeReply): -1 off or done, 0 waiting for the first client byte, else when it was forwarded. */
  replyFrom = -1;
  throttled: Throttled | null = null;
  constructor() {
    super(true);
  }

  /** pipe(): join the upstream side; both sides report to this object from now on. */
  join(upstream: BunSide, sweeper: IdleSweeper, opts: PipeOptions, done: PipeDone<PipeOptions>): void {
    this.upstream = upstream;
    this.sweeper = sweeper;
    this.opts = opts;
    this.done = done;
    this.pair = this;
    upstream.pair = this;
    if (opts.timeReply === true) this.replyFrom = 0;
    const throttle = opts.throttle ?? null;
    if (throttle !== null) this.throttled = { throttle, clientTimer: null, upstreamTimer: null };
  }

  onIdle(): void {
    fail(this, 'idle_timeout');
  }
}

/** The latency hook of PipeOptions: start at the first client chunk, report at the first upstream chunk after it. */
export function timeReply(pair: BunPair, fromClient: boolean): void {
  if (fromClient) {
    if (pair.replyFrom === 0) pair.replyFrom = performance.now();
  } else if (pair.replyFrom > 0) {
    const ms = performance.now() - pair.replyFrom;
    pair.replyFrom = -1;
    pair.opts!.replyLatency?.(ms);
  }
}

/** Stop reading from `side` (backpressure, or bytes before pipe()). */
export function pauseSide(side: BunSide): void {
  if (side.paused) return;
  side.paused = true;
  side.socket!.pause();
}

/**
 * Read again, only if we paused. Bun's resume() re-arms the poll for reading AND writing, so on a socket that
 * was reading anyway it costs an epoll_ctl, a spurious writable event and a second epoll_ctl (seen in strace).
 */
export function resumeSide(side: BunSide): void {
  if (!side.paused) return;
  side.paused = false;
  side.socket!.resume();
}

/** Write to `dst`, or queue what the kernel did not take. True when everything went out now. */
export function writeOrQueue(dst: BunSide, chunk: Uint8Array): boolean {
  if (dst.queue === null) {
    const n = dst.socket!.write(chunk);
    if (n === chunk.length) return true;
    if (n > 0) chunk = chunk.subarray(n);
    dst.queue = [chunk];
    return false;
  }
  dst.queue.push(chunk);
  return false;
}

/** From `drain`: write queued chunks in order. True when the queue is empty again. */
export function flushQueue(dst: BunSide): boolean {
  const q = dst.queue;
  if (q === null) return true;
  const socket = dst.socket!;
  let i = 0;
  for (; i < q.length; i++) {
    const chunk = q[i]!;
    const n = socket.write(chunk);
    if (n < chunk.length) {
      if (n > 0) q[i] = chunk.subarray(n);
      break;
    }
  }
  if (i === q.length) {
    dst.queue = null;
    return true;
  }
  if (i > 0) q.splice(0, i);
  return false;
}

/** Pass a FIN on to `dst`. If `dst` already sent its own FIN, both directions are done: close it. */
export function sendFin(dst: BunSide): void {
  if (dst.finSent || dst.closed) return;
  dst.finSent = true;
  if (dst.eof) dst.socket!.end();
  else dst.socket!.shutdown();
}

/** Both directions of `side` are finished (FIN sent and received): close the socket. */
export function finishSide(side: BunSide): void {
  if (!side.closed) side.socket!.end();
}

/** Record why the pair ends (the first cause wins) and close both sockets at once. */
export function fail(pair: BunPair, reason: PipeEndReason, error?: string): void {
  if (pair.reason === null) {
    pair.reason = reason;
    pair.endError = error;
  }
  if (!pair.closed) pair.socket!.terminate();
  if (!pair.upstream!.closed) pair.upstream!.socket!.terminate();
}

/** A socket of the pair closed: tear down or half-close the other, and report once both are gone. */
export function sideClosed(pair: BunPair, side: BunSide): void {
  const peer = side === pair ? pair.upstream! : pair;
  side.queue = null;
  side.eof = true;
  if (side.error !== null && pair.reason === null) {
    fail(pair, side.isClient ? 'client_error' : 'upstream_error', side.error);
  }
  if (!peer.closed) {
    // with a reason set, fail() has already terminated the peer; its close event finishes the pair
    if (pair.reason === null) {
      // closed cleanly: what it sent is complete, so the peer gets its FIN once its queue is written
      // (onDrain sees side.eof); the peer's reader is resumed so that its own FIN or close is seen
      if (peer.queue === null) sendFin(peer);
      resumeSide(peer);
    }
    return;
  }
  if (pair.finished) return;
  pair.finished = true;
  pair.sweeper!.remove(pair);
  const t = pair.throttled;
  if (t !== null) {
    if (t.clientTimer !== null) clearTimeout(t.clientTimer);
    if (t.upstreamTimer !== null) clearTimeout(t.upstreamTimer);
  }
  const result: PipeResult = {
    bytesFromClient: pair.bytesFromClient,
    bytesToClient: pair.bytesToClient,
    reason: pair.reason ?? 'closed',
  };
  if (pair.endError !== undefined) result.error = pair.endError;
  pair.done!(result, pair.opts!);
}

/**
 * A throttled pair forwarded `bytes` read from `side`: over the rate, that side stops reading for the time the
 * throttle says (the chunk has gone out; nothing more is read, so nothing piles up).
 */
export function throttleAfter(pair: BunPair, side: BunSide, bytes: number): void {
  const t = pair.throttled!;
  const wait = t.throttle.consumed(side.isClient, bytes);
  if (wait <= 0 || side.closed || (side.isClient ? t.clientTimer : t.upstreamTimer) !== null) return;
  pauseSide(side);
  const timer = setTimeout(endHold, wait, pair, side);
  if (side.isClient) t.clientTimer = timer;
  else t.upstreamTimer = timer;
}

/** A side's hold is over: read again, unless its peer still has bytes queued (its drain resumes it). */
function endHold(pair: BunPair, side: BunSide): void {
  const t = pair.throttled!;
  if (side.isClient) t.clientTimer = null;
  else t.upstreamTimer = null;
  if (pair.finished || side.closed) return;
  pair.activity++; // a hold is not idleness
  const peer = side === pair ? pair.upstream! : pair;
  if (peer.queue === null) resumeSide(side);
}

/** Is this side of a throttled pair stopped for its rate? */
export function isHeld(pair: BunPair, side: BunSide): boolean {
  const t = pair.throttled;
  return t !== null && (side.isClient ? t.clientTimer : t.upstreamTimer) !== null;
}
