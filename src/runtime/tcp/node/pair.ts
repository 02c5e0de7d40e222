// The byte pump of the node:net data plane: one Pair per proxied connection, copying both ways with
// backpressure, passing half-closes on, and ending on an idle timer that never reads the clock per chunk.

import { idleTickMs } from '../../../lib/idle-sweep';
import type net from 'node:net';
import { kSide, type NodeInbound, type NodeOutbound, type Side, type WeirSocket } from './side';
import type { PipeDone, PipeEndReason, PipeOptions, PipeResult } from '../../types';

/** One proxied connection. Finishes (calls done) once, when both sockets have closed. */
export class Pair {
  bytesFromClient = 0;
  bytesToClient = 0;
  /** Bumped per chunk either way; the idle tick compares it instead of reading the clock per chunk. */
  activity = 0;
  seenActivity = 0;
  quietSince = Date.now();
  reason: PipeEndReason | null = null;
  error: string | undefined;
  finished = false;
  timer: NodeJS.Timeout | null = null;
  /** Reply timing (opts.timeReply): -1 off or done, 0 waiting for the first client byte, else when it was forwarded. */
  replyFrom = -1;
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
    if (this.timer !== null) clearInterval(this.timer);
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

/** Attached to every socket by wire() (events.ts); does nothing before pipe(). */
export function onDrain(this: WeirSocket): void {
  const side = this[kSide];
  const pair = side.pair;
  if (pair === null) return;
  pair.activity++;
  const source = pair.peerOf(side);
  if (!source.closed && !source.socket.readableEnded) source.socket.resume();
}

function onIdleTick(pair: Pair): void {
  const now = Date.now();
  if (pair.activity !== pair.seenActivity) {
    pair.seenActivity = pair.activity;
    pair.quietSince = now;
  } else if (now - pair.quietSince >= pair.idleTimeoutMs) {
    pair.fail('idle_timeout');
  }
}

/** pipe(): join a client and its dialled upstream, write the upstream prefix, start reading both. Calls done once. */
export function startPipe<O extends PipeOptions>(c: NodeInbound, u: NodeOutbound, opts: O, done: PipeDone<O>): void {
  const pair = new Pair(c, u, opts, done as PipeDone<PipeOptions>);
  c.pair = pair;
  u.pair = pair;
  const step = idleTickMs(opts.idleTimeoutMs);
  pair.timer = setInterval(onIdleTick, step, pair);
  pair.timer.unref();
  // Either side may have died while the upstream was being dialled.
  if (c.closed || c.error !== null) pair.fail('client_error', c.error?.message ?? 'client closed before the pipe started');
  if (u.closed || u.error !== null) pair.fail('upstream_error', u.error?.message ?? 'upstream closed before the pipe started');
  if (pair.reason !== null) {
    // close events of sides that were already closed fired before the pair existed
    if (c.closed) pair.sideClosed(c);
    if (u.closed) pair.sideClosed(u);
    return;
  }
  c.socket.on('data', onData);
  u.socket.on('data', onData);
  // The prefix is written before the client is read at all, so it comes first. When it fills the socket's
  // buffer the client waits for the upstream's drain (onDrain resumes it), as it would after a chunk.
  const prefix = opts.upstreamPrefix;
  if (prefix === null || u.socket.write(prefix)) c.socket.resume();
  u.socket.resume();
}
