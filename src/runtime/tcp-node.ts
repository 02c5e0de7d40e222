// The TCP data plane on node:net: listen, dial, and the byte pump between a client and its upstream.
// Shared handler functions read per-socket state from a symbol slot: no closures per connection.

import net from 'node:net';
import tls from 'node:tls';
import { acceptError, clientContextFor, peerChainDepth, serverFor, type TlsServerHooks } from './tls-node';
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
  PrereadCallback,
  PrereadState,
  TcpDataPlane,
  TcpListener,
  TlsAcceptError,
  TlsAccepted,
  TlsAcceptOptions,
  TlsConnectOptions,
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
  /** Outbound TLS: TCP is up, the handshake is running (its failures are kind 'tls'). */
  tlsHandshaking = false;
  /** Inbound: a running preread, or a running startTls. */
  pre: Preread | null = null;
  tlsDone: ((err: TlsAcceptError | null, info: TlsAccepted | null) => void) | null = null;
  tlsTimer: NodeJS.Timeout | null = null;
  tlsDepth = 0;
  constructor(
    /** Replaced by the TLS socket once startTls() succeeds. */
    public socket: WeirSocket,
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

    connect(host, port, timeoutMs, done, tlsOpts) {
      if (tlsOpts) return connectTls(host, port, timeoutMs, done, tlsOpts);
      const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true }) as WeirSocket;
      socket.pause(); // no reads until pipe(): bytes the upstream sends first wait in the kernel
      const side = new NodeOutbound(socket, host, port);
      side.dialDone = done;
      side.dialTimer = setTimeout(onDialTimeout, timeoutMs, side, timeoutMs);
      socket.once('connect', onConnect);
      wire(socket);
    },

    preread(conn, maxBytes, timeoutMs, cb) {
      const side = conn as NodeInbound;
      if (side.closed || side.error !== null) {
        queueMicrotask(() => cb(EMPTY, side.error !== null ? 'error' : 'eof'));
        return;
      }
      side.pre = new Preread(maxBytes, cb);
      side.pre.timer = setTimeout(onPrereadTimeout, timeoutMs, side);
      side.socket.on('data', onPrereadData);
      side.socket.resume();
    },

    startTls(conn, opts, done) {
      startTls(conn as NodeInbound, opts, done);
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

// ------------------------------------------------------------------ preread (TLS listeners)

const EMPTY = new Uint8Array(0);

/** A running preread: bytes so far (also queued back on the socket before every callback). */
class Preread {
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

function endPreread(side: Side, state: PrereadState): void {
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

// ------------------------------------------------------------------ TLS termination

const serverHooks: TlsServerHooks = {
  secure(socket) {
    const side = sideOfTls(socket);
    if (side === null || side.tlsDone === null) return void socket.destroy();
    if (side.tlsDepth > 0 && peerChainDepth(socket) > side.tlsDepth) {
      return finishTls(side, { kind: 'client_cert', message: `client certificate chain is deeper than client.depth ${side.tlsDepth}` }, socket);
    }
    const s = socket as unknown as WeirSocket;
    side.socket = s;
    s[kSide] = side;
    s.setNoDelay(true);
    wire(s);
    const servername = typeof socket.servername === 'string' ? socket.servername : null;
    finishTls(side, null, null, { servername, protocol: socket.getProtocol() ?? 'unknown' });
  },
  failed(err, socket) {
    const side = sideOfTls(socket);
    if (side !== null) finishTls(side, acceptError(err, socket), socket);
    else socket.destroy();
  },
};

/** The raw socket a TLS socket wraps carries the Side (node:tls keeps it as `_parent`). */
function sideOfTls(socket: tls.TLSSocket): Side | null {
  const raw = (socket as unknown as { _parent?: WeirSocket })._parent;
  return raw?.[kSide] ?? null;
}

function finishTls(side: Side, err: TlsAcceptError | null, failed: tls.TLSSocket | null, info: TlsAccepted | null = null): void {
  const done = side.tlsDone;
  if (done === null) return;
  side.tlsDone = null;
  if (side.tlsTimer !== null) clearTimeout(side.tlsTimer);
  if (err !== null) {
    side.closed = true;
    failed?.destroy();
    side.socket.destroy();
    return done(err, null);
  }
  done(null, info);
}

function onTlsTimeout(side: Side, ms: number): void {
  finishTls(side, { kind: 'timeout', message: `TLS handshake not finished after ${ms} ms` }, null);
}

function startTls(side: NodeInbound, opts: TlsAcceptOptions, done: (err: TlsAcceptError | null, info: TlsAccepted | null) => void): void {
  if (side.closed || side.error !== null) {
    queueMicrotask(() => done({ kind: 'handshake', message: 'client closed before the handshake' }, null));
    return;
  }
  let server: tls.Server;
  try {
    server = serverFor(opts.certificate, serverHooks);
  } catch (err) {
    side.socket.destroy();
    queueMicrotask(() => done({ kind: 'handshake', message: `certificate unusable: ${(err as Error).message}` }, null));
    return;
  }
  side.tlsDone = done;
  side.tlsDepth = opts.certificate.clientCa !== null ? opts.certificate.clientDepth : 0;
  side.tlsTimer = setTimeout(onTlsTimeout, opts.timeoutMs, side, opts.timeoutMs);
  const raw = side.socket;
  // From here the TLS socket reports errors and close; the raw one only needs a listener so an error cannot throw.
  raw.off('error', onError);
  raw.off('close', onClose);
  raw.off('end', onEnd);
  raw.off('drain', onDrain);
  raw.on('error', ignoreError);
  server.emit('connection', raw);
}

function ignoreError(): void {}

// ------------------------------------------------------------------ upstream TLS

function connectTls(
  host: string,
  port: number,
  timeoutMs: number,
  done: (err: ConnectError | null, conn: OutboundConn | null) => void,
  opts: TlsConnectOptions,
): void {
  const socket = tls.connect({
    host,
    port,
    servername: opts.servername,
    secureContext: clientContextFor(opts.config),
    rejectUnauthorized: opts.config.verify,
    // net.Socket option, honoured by tls.connect but missing from its option type
    ...({ allowHalfOpen: true } as object),
  }) as unknown as WeirSocket;
  const side = new NodeOutbound(socket, host, port);
  side.dialDone = done;
  side.dialTimer = setTimeout(onDialTimeout, timeoutMs, side, timeoutMs);
  socket.once('connect', onTcpUp);
  socket.once('secureConnect', onConnect);
  wire(socket);
}

function onTcpUp(this: WeirSocket): void {
  this[kSide].tlsHandshaking = true;
  this.setNoDelay(true);
}
