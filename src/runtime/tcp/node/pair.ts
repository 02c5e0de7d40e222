// The byte pump of the node:net data plane: one Pair per proxied connection, copying both ways with
// backpressure, passing half-closes on, and ending on an idle timeout that never reads the clock per chunk
// (one IdleSweeper per process walks the pairs of each timeout value: no timer per connection).
// A pair with a throttle (limit-bandwidth) gets its own data handler that stops reading a side over its rate.

import { IdleSweeper, type IdleTracked } from '../../../lib/idle-sweep';
import type net from 'node:net';
import { kSide, type NodeInbound, type NodeOutbound, type Side, type WeirSocket } from './side';
import type { PipeDone, PipeEndReason, PipeOptions, PipeResult, PipeThrottle } from '../../types';

/** A throttled pair's state (limit-bandwidth); pairs without a throttle carry null and never look at it. */
interface Throttled {
  throttle: PipeThrottle;
  /** Set while that side's reading is stopped for its rate; cleared when the time is up. */
  clientTimer: NodeJS.Timeout | null;
  upstreamTimer: NodeJS.Timeout | null;
}

/** The idle timeouts of every pair in this process, one timer per distinct timeout. */
const sweeper = new IdleSweeper();

/** One proxied connection. Finishes (calls done) once, when both sockets have closed. */
export class Pair implements IdleTracked {
  bytesFromClient = 0;
  bytesToClient = 0;
  /** Bumped per chunk either way; the idle tick compares it instead of reading the clock per chunk. */
  activity = 0;
  seenActivity = 0;
  quietSince = Date.now();
  reason: PipeEndReason | null = null;
  error: string | undefined;
  finished = false;
  /** The sweeper's group while the idle timeout is tracked. */
  idleGroup: object | null = null;
  /** Reply timing (opts.timeReply): -1 off or done, 0 waiting for the first client byte, else when it was forwarded. */
  replyFrom = -1;
  throttled: Throttled | null = null;
  constructor(
    readonly client: NodeInbound,
    readonly upstream: NodeOutbound,
    readonly opts: PipeOptions,
    readonly done: PipeDone<PipeOptions>,
  ) {
    this.idleTimeoutMs = opts.idleTimeoutMs;
    if (opts.timeReply === true) this.replyFrom = 0;
  }
  readonly idleTimeoutMs: number;

  /** The sweeper found nothing moved for the idle timeout. */
  onIdle(): void {
    sweeper.remove(this);
    this.fail('idle_timeout');
  }

  peerOf(side: Side): Side {
    return side === this.client ? this.upstream : this.client;
  }

  /** Record why the pair ends (first cause wins) and tear both sockets down. */
  fail(reason: PipeEndReason, error?: string): void {
    if (this.reason === null) {
      this.reason = reason;
      this.error = error;
    }
    this.client.socket.destroy();
    this.upstream.socket.destroy();
  }

  sideClosed(side: Side): void {
    const peer = this.peerOf(side);
    if (!peer.closed) {
      if (this.reason !== null || side.error !== null) peer.socket.destroy();
      else finishWrites(peer.socket);
      return;
    }
    if (this.finished) return;
    this.finished = true;
    sweeper.remove(this);
    if (this.throttled !== null) {
      if (this.throttled.clientTimer !== null) clearTimeout(this.throttled.clientTimer);
      if (this.throttled.upstreamTimer !== null) clearTimeout(this.throttled.upstreamTimer);
    }
    const result: PipeResult = {
      bytesFromClient: this.bytesFromClient,
      bytesToClient: this.bytesToClient,
      reason: this.reason ?? 'closed',
    };
    if (this.error !== undefined) result.error = this.error;
    this.done(result, this.opts);
  }
}

/** Pass a FIN on. If that side's reading is over too, nothing more can happen: close after the flush. */
export function finishWrites(socket: net.Socket): void {
  if (socket.readableEnded) socket.destroySoon();
  else socket.end();
}

function onData(this: WeirSocket, chunk: Buffer): void {
  const side = this[kSide];
  const pair = side.pair;
  if (pair === null) return;
  const peer = pair.peerOf(side);
  if (peer.closed) return;
  if (side.isClient) pair.bytesFromClient += chunk.length;
  else pair.bytesToClient += chunk.length;
  pair.activity++;
  if (pair.replyFrom >= 0) timeReply(pair, side.isClient);
  // Backpressure: stop reading this side until the peer's buffer drains.
  if (!peer.socket.write(chunk)) this.pause();
}

/** The latency hook of PipeOptions: start at the first client chunk, report at the first upstream chunk after it. */
function timeReply(pair: Pair, fromClient: boolean): void {
  if (fromClient) {
    if (pair.replyFrom === 0) pair.replyFrom = performance.now();
  } else if (pair.replyFrom > 0) {
    const ms = performance.now() - pair.replyFrom;
    pair.replyFrom = -1;
    pair.opts.replyLatency?.(ms);
  }
}

/**
 * The data handler of a throttled pair (instead of onData, so other pairs never look at throttles): forward
 * the chunk as usual, then tell the throttle; over the rate, this side stops reading until its time is up.
 */
function onThrottledData(this: WeirSocket, chunk: Buffer): void {
  onData.call(this, chunk);
  const side = this[kSide];
  const pair = side.pair;
  if (pair === null || pair.throttled === null || side.closed) return;
  const t = pair.throttled;
  const wait = t.throttle.consumed(side.isClient, chunk.length);
  if (wait <= 0 || (side.isClient ? t.clientTimer : t.upstreamTimer) !== null) return;
  this.pause();
  const timer = setTimeout(endHold, wait, pair, side);
  timer.unref();
  if (side.isClient) t.clientTimer = timer;
  else t.upstreamTimer = timer;
}

/** A side's hold for its rate is over: read again, unless the other side is still applying backpressure. */
function endHold(pair: Pair, side: Side): void {
  const t = pair.throttled!;
  if (side.isClient) t.clientTimer = null;
  else t.upstreamTimer = null;
  if (pair.finished || side.closed) return;
  pair.activity++; // a hold is not idleness
  const peer = pair.peerOf(side);
  if (!peer.closed && peer.socket.writableNeedDrain) return; // its drain resumes this side
  if (!side.socket.readableEnded) side.socket.resume();
}

/** Is this side stopped for its rate? Only asked on drain, of throttled pairs. */
function isHeld(pair: Pair, side: Side): boolean {
  const t = pair.throttled;
  return t !== null && (side.isClient ? t.clientTimer : t.upstreamTimer) !== null;
}

/** Attached to every socket by wire() (events.ts); does nothing before pipe(). */
export function onDrain(this: WeirSocket): void {
  const side = this[kSide];
  const pair = side.pair;
  if (pair === null) return;
  pair.activity++;
  const source = pair.peerOf(side);
  if (!source.closed && !source.socket.readableEnded && !isHeld(pair, source)) source.socket.resume();
}

/** pipe(): join a client and its dialled upstream, write the upstream prefix, start reading both. Calls done once. */
export function startPipe<O extends PipeOptions>(c: NodeInbound, u: NodeOutbound, opts: O, done: PipeDone<O>): void {
  const pair = new Pair(c, u, opts, done as PipeDone<PipeOptions>);
  c.pair = pair;
  u.pair = pair;
  sweeper.add(pair, opts.idleTimeoutMs);
  // Either side may have died while the upstream was being dialled.
  if (c.closed || c.error !== null) pair.fail('client_error', c.error?.message ?? 'client closed before the pipe started');
  if (u.closed || u.error !== null) pair.fail('upstream_error', u.error?.message ?? 'upstream closed before the pipe started');
  if (pair.reason !== null) {
    // close events of sides that were already closed fired before the pair existed
    if (c.closed) pair.sideClosed(c);
    if (u.closed) pair.sideClosed(u);
    return;
  }
  const throttle = opts.throttle ?? null;
  if (throttle !== null) pair.throttled = { throttle, clientTimer: null, upstreamTimer: null };
  const handler = throttle === null ? onData : onThrottledData;
  c.socket.on('data', handler);
  u.socket.on('data', handler);
  // The prefix is written before the client is read at all, so it comes first. When it fills the socket's
  // buffer the client waits for the upstream's drain (onDrain resumes it), as it would after a chunk.
  const prefix = opts.upstreamPrefix;
  if (prefix === null || u.socket.write(prefix)) c.socket.resume();
  u.socket.resume();
  // a FIN that came before the pair existed was seen by no one (reading a consumed PROXY header off the socket
  // can end its stream while the upstream is dialled): pass it on now, after the prefix
  if (c.socket.readableEnded) finishWrites(u.socket);
}
