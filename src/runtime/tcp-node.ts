// The TCP data plane on node:net: listen, dial, and the byte pump between a client and its upstream.
// Shared handler functions read per-socket state from a symbol slot: no closures per connection.

import net from 'node:net';
import { unmapIpv4 } from '../lib/ip';
import { logger } from '../log/logger';
import type {
  ConnectError,
  ConnectErrorKind,
  InboundConn,
  OutboundConn,
  PipeEndReason,
  PipeOptions,
  PipeResult,
  TcpDataPlane,
  TcpListener,
} from './types';

const kSide = Symbol('weir.side');
type WeirSocket = net.Socket & { [kSide]: Side };

/** State of one socket: which pair it belongs to, whether it closed, its first error. */
class Side {
  pair: Pair | null = null;
  closed = false;
  error: Error | null = null;
  /** Outbound only: the connect() callback until it has been called; the connect timer. */
  dialDone: ((err: ConnectError | null, conn: OutboundConn | null) => void) | null = null;
  dialTimer: NodeJS.Timeout | null = null;
  constructor(
    readonly socket: WeirSocket,
    readonly isClient: boolean,
  ) {
    socket[kSide] = this;
  }
}

class NodeInbound extends Side implements InboundConn {
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

class NodeOutbound extends Side implements OutboundConn {
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

/** One proxied connection. Finishes (calls done) once, when both sockets have closed. */
class Pair {
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
  constructor(
    readonly client: NodeInbound,
    readonly upstream: NodeOutbound,
    readonly idleTimeoutMs: number,
    readonly done: (r: PipeResult) => void,
  ) {}

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
    this.done(result);
  }
}

/** Pass a FIN on. If that side's reading is over too, nothing more can happen: close after the flush. */
function finishWrites(socket: net.Socket): void {
  if (socket.readableEnded) socket.destroySoon();
  else socket.end();
}

// ------------------------------------------------------------------ shared socket handlers

function onData(this: WeirSocket, chunk: Buffer): void {
  const side = this[kSide];
  const pair = side.pair;
  if (pair === null) return;
  const peer = pair.peerOf(side);
  if (peer.closed) return;
  if (side.isClient) pair.bytesFromClient += chunk.length;
  else pair.bytesToClient += chunk.length;
  pair.activity++;
  // Backpressure: stop reading this side until the peer's buffer drains.
  if (!peer.socket.write(chunk)) this.pause();
}

function onDrain(this: WeirSocket): void {
  const side = this[kSide];
  const pair = side.pair;
  if (pair === null) return;
  pair.activity++;
  const source = pair.peerOf(side);
  if (!source.closed && !source.socket.readableEnded) source.socket.resume();
}

/** A FIN arrived: pass it on; the other direction keeps flowing (allowHalfOpen). */
function onEnd(this: WeirSocket): void {
  const side = this[kSide];
  const pair = side.pair;
  if (pair === null) return;
  const peer = pair.peerOf(side);
  if (!peer.closed) finishWrites(peer.socket);
}

function onError(this: WeirSocket, err: Error): void {
  const side = this[kSide];
  side.error ??= err;
  if (side.dialDone !== null) return failDial(side, errorKind((err as NodeJS.ErrnoException).code), err);
  if (side.pair !== null) side.pair.fail(side.isClient ? 'client_error' : 'upstream_error', err.message);
}

function onClose(this: WeirSocket): void {
  const side = this[kSide];
  side.closed = true;
  if (side.dialDone !== null) {
    failDial(side, 'other', side.error ?? new Error('socket closed before the connection was established'));
  }
  if (side.pair !== null) side.pair.sideClosed(side);
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

function wire(socket: net.Socket): void {
  socket.on('error', onError);
  socket.on('close', onClose);
  socket.on('end', onEnd);
  socket.on('drain', onDrain);
}

// ------------------------------------------------------------------ connect

function errorKind(code: string | undefined): ConnectErrorKind {
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'unreachable';
  if (code === 'ETIMEDOUT') return 'timeout';
  return 'other';
}

function failDial(side: Side, kind: ConnectErrorKind, err: Error): void {
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

// ------------------------------------------------------------------ listen

class NodeListener implements TcpListener {
  constructor(
    private readonly server: net.Server,
    readonly host: string,
    readonly port: number,
  ) {}
  stop(): Promise<void> {
    // server.close()'s callback waits for every open connection; stopping only means no new accepts.
    if (this.server.listening) this.server.close();
    return new Promise((resolve) => setImmediate(resolve));
  }
}

function accept(socket: net.Socket): NodeInbound | null {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (remoteAddress === undefined || remotePort === undefined || localAddress === undefined || localPort === undefined) {
    socket.destroy(); // already gone between accept() and here
    return null;
  }
  const conn = new NodeInbound(socket as WeirSocket, unmapIpv4(remoteAddress), remotePort, unmapIpv4(localAddress), localPort);
  wire(socket);
  return conn;
}

/** The node:net data plane. One per process is enough; it holds no state of its own. */
export function createNodeTcpDataPlane(): TcpDataPlane {
  return {
    listen(addr, onConn) {
      return new Promise<TcpListener>((resolve, reject) => {
        const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
        server.on('connection', (socket: net.Socket) => {
          const conn = accept(socket);
          if (conn !== null) onConn(conn);
        });
        const onListenError = (err: Error): void => reject(err);
        server.once('error', onListenError);
        server.listen({ host: addr.host, port: addr.port, backlog: 4096 }, () => {
          server.off('error', onListenError);
          server.on('error', (err: Error) => logger.error('listener error', { error: err.message }));
          const bound = server.address() as net.AddressInfo;
          resolve(new NodeListener(server, unmapIpv4(bound.address), bound.port));
        });
      });
    },

    connect(host, port, timeoutMs, done) {
      const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true }) as WeirSocket;
      socket.pause(); // no reads until pipe(): bytes the upstream sends first wait in the kernel
      const side = new NodeOutbound(socket, host, port);
      side.dialDone = done;
      side.dialTimer = setTimeout(onDialTimeout, timeoutMs, side, timeoutMs);
      socket.once('connect', onConnect);
      wire(socket);
    },

    pipe(client, upstream, opts: PipeOptions, done) {
      const c = client as NodeInbound;
      const u = upstream as NodeOutbound;
      const pair = new Pair(c, u, opts.idleTimeoutMs, done);
      c.pair = pair;
      u.pair = pair;
      const step = Math.max(10, Math.min(opts.idleTimeoutMs / 8, 60_000));
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
      c.socket.resume();
      u.socket.resume();
    },

    destroy(conn) {
      const side = conn as unknown as Side;
      if (side.pair !== null && !side.pair.finished) side.pair.fail('aborted');
      else side.socket.destroy();
    },
  };
}
