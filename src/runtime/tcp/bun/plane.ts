// The TCP data plane on Bun's native sockets (Bun.listen / Bun.connect): listen and the pump's shared event handlers
// here; dialling in dial.ts, the pair's state in pair.ts, preread, TLS termination and the node bridge beside them.
// Same contract as the node plane (test/runtime/tcp/plane.cases.ts); measured against nginx in bench/.
//
// Bun sockets do not buffer: write() returns how many bytes the kernel took. The rest waits in a per-socket
// queue and the reading side is paused until the writer's `drain`. Chunks Bun hands to `data` are fresh
// per call, so queueing them is safe. Handlers are shared objects; per-connection state lives in socket.data.
// Half-close: with allowHalfOpen, end() still closes both directions, so a FIN is sent with shutdown()
// and end() is only called once both directions are finished.
// Per connection this does no more socket calls than the bare prototype (bench/bunnative.js), counted with
// `strace -c`: no setNoDelay (Bun sets TCP_NODELAY itself on accept and connect), no pause()/resume() unless
// bytes really arrive before pipe() or meet backpressure, no getsockname for a listener bound to one address,
// no getpeername for the upstream (its address is the one dialled).

import { parseIp, unmapIpv4 } from '../../../lib/ip';
import { bunApi, type BunTcpHandlers, type BunTcpListener, type BunTcpSocket } from '../../bun/api';
import { DeadlineQueue } from '../../../lib/deadline-queue';
import { IdleSweeper } from '../../../lib/idle-sweep';
import { consumeEarly, endPreread, onPrereadData, startPreread } from './preread';
import { bunTlsSession, onBunHandshake, onTlsClosed, startBunTls } from './tls';
import { adoptNodeSide, type PumpHandlers } from './bridge';
import { loadNodeTcpPlane, type NodeTcpPlane } from '../../load-node-plane';
import { BunOutbound, errorKind, failDial, onConnectError, onDialTimeout, onOutboundOpen, settleDial } from './dial';
import { BunPair, BunSide, fail, finishSide, flushQueue, isHeld, pauseSide, resumeSide, sendFin, sideClosed, throttleAfter, timeReply, writeOrQueue } from './pair';
import type { ConnectError, InboundConn, OutboundConn, PipeDone, PipeOptions, TcpDataPlane, TcpListener } from '../../types';

type Sock = BunTcpSocket<BunSide>;

class BunInbound extends BunPair implements InboundConn {
  constructor(
    socket: Sock,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly localAddress: string,
    readonly localPort: number,
  ) {
    super();
    this.socket = socket;
  }
}

// ------------------------------------------------------------------ shared handlers (both sides)

/**
 * After startTls() the side's socket is the TLS one; the raw socket it wraps may still report events with the
 * same `data`: those are not ours. (An outbound side has no socket until it opens.)
 */
function stale(s: Sock, side: BunSide): boolean {
  return side.socket !== null && side.socket !== s;
}

function onData(s: Sock, chunk: Buffer): void {
  const side = s.data;
  if (stale(s, side)) return;
  const pair = side.pair;
  if (pair === null) {
    // preread, or bytes before pipe() (the client's first request while the upstream is dialled): kept
    // for pipe(), and reading stops until then, so a client cannot make us buffer more than one chunk
    (side.early ??= []).push(chunk);
    if (side.preread !== null) onPrereadData(side.preread, chunk.length);
    else pauseSide(side);
    return;
  }
  const peer = side === pair ? pair.upstream! : pair;
  if (peer.closed) return; // its reader is gone; the bytes have nowhere to go (as in the node plane)
  if (side.isClient) pair.bytesFromClient += chunk.length;
  else pair.bytesToClient += chunk.length;
  pair.activity++;
  if (pair.replyFrom >= 0) timeReply(pair, side.isClient);
  if (!writeOrQueue(peer, chunk)) pauseSide(side);
  if (pair.throttled !== null) throttleAfter(pair, side, chunk.length);
}

/** The socket can take more: write what waits for it, then let its source read again. */
function onDrain(s: Sock): void {
  const side = s.data;
  if (stale(s, side)) return;
  if (side.queue === null) return;
  const pair = side.pair;
  if (side.queue === null) return;
  if (pair === null) {
    flushQueue(side); // a connect prefix, or a probe's request (exchange()), the socket did not take at once
    return;
  }
  pair.activity++;
  if (!flushQueue(side)) return;
  const source = side === pair ? pair.upstream! : pair;
  if (source.eof) sendFin(side);
  else if (!source.closed && !isHeld(pair, source)) resumeSide(source);
}

/** FIN from this socket: pass it on once everything queued for the peer is written. */
function onEnd(s: Sock): void {
  const side = s.data;
  if (stale(s, side)) return;
  side.eof = true;
  if (side.preread !== null) endPreread(side.preread, 'eof');
  const pair = side.pair;
  if (pair !== null) {
    const peer = side === pair ? pair.upstream! : pair;
    if (!peer.closed && peer.queue === null) sendFin(peer);
  }
  if (side.finSent) finishSide(side); // both directions of this socket are done
}

function onClose(s: Sock, err?: Error): void {
  const side = s.data;
  if (stale(s, side)) return;
  side.closed = true;
  if (err !== undefined && side.error === null) side.error = err.message;
  if (side.preread !== null) endPreread(side.preread, side.error !== null ? 'error' : 'eof');
  if (side.tls !== null) return onTlsClosed(side);
  if (side instanceof BunOutbound && side.dialDone !== null) {
    return failDial(side, errorKind((err as { code?: string } | undefined)?.code), err ?? new Error('closed while connecting'));
  }
  if (side.pair !== null) sideClosed(side.pair, side);
}

function onError(s: Sock, err: Error): void {
  const side = s.data;
  if (stale(s, side)) return;
  if (side.error === null) side.error = err.message;
}

// ------------------------------------------------------------------ connect (dial.ts)

const outboundHandlers: BunTcpHandlers<BunSide> = {
  open: onOutboundOpen,
  connectError: onConnectError,
  data: onData,
  drain: onDrain,
  end: onEnd,
  close: onClose,
  error: onError,
};

function ignore(): void {}

const PUMP: PumpHandlers = { data: onData, drain: onDrain, end: onEnd, close: onClose };

/** The TLS socket of a terminated connection: the same pump, plus the end of its handshake. */
const tlsHandlers: BunTcpHandlers<BunSide> = {
  data: onData,
  drain: onDrain,
  end: onEnd,
  close: onClose,
  error: onError,
  handshake: onBunHandshake,
};

// ------------------------------------------------------------------ listen

class BunListener implements TcpListener {
  constructor(
    private readonly handle: BunTcpListener,
    readonly host: string,
    readonly port: number,
  ) {}
  get fd(): number | undefined {
    return this.stopped ? undefined : this.handle.fd;
  }
  stopped = false;
  stop(): Promise<void> {
    if (!this.stopped) this.handle.stop(false);
    this.stopped = true;
    return Promise.resolve();
  }
}

/**
 * The listener's host when it is one IPv4 address (the common edge setup, and what the config canonicalises
 * to): accepted sockets then have it as their local address. Null for wildcards, names and IPv6 (whose text
 * form the kernel may write differently): those ask the socket.
 */
function fixedLocalHost(host: string): string | null {
  const plain = unmapIpv4(host);
  const ip = parseIp(plain);
  return ip !== null && ip.family === 4 && plain !== '0.0.0.0' && !plain.includes(':') ? plain : null;
}

/**
 * `bound` is the listener's own address when it is bound to one interface: every accepted socket then has
 * it as its local address, and the getsockname() calls behind s.localAddress / s.localPort are saved.
 */
function inboundHandlers(onConn: (conn: InboundConn) => void, bound: { host: string; port: number } | null): BunTcpHandlers<BunSide> {
  return {
    open(s) {
      // not paused: reading stops at the first chunk before pipe() (onData), as in the bare prototype
      const conn = bound !== null
        ? new BunInbound(s, unmapIpv4(s.remoteAddress), s.remotePort, bound.host, bound.port)
        : new BunInbound(s, unmapIpv4(s.remoteAddress), s.remotePort, unmapIpv4(s.localAddress), s.localPort);
      s.data = conn;
      onConn(conn);
    },
    data: onData,
    drain: onDrain,
    end: onEnd,
    close: onClose,
    error: onError,
  };
}

export interface BunTcpOptions {
  /** SO_REUSEPORT on listeners, so several worker processes can share a port (multi-core). */
  reusePort?: boolean;
  /**
   * Terminate TLS with node:tls (through the node plane and the bridge) instead of Bun's native upgradeTLS.
   * For A/B runs and as a way out should a Bun release change upgradeTLS; default false (env WEIR_TLS_PLANE=node).
   */
  nodeTls?: boolean;
}

/** The Bun-native data plane. Only valid under Bun (detectRuntime() === 'bun'). */
export function createBunTcpDataPlane(options: BunTcpOptions = {}): TcpDataPlane {
  const bun = bunApi();
  const sweeper = new IdleSweeper();
  const nodeTls = options.nodeTls ?? process.env.WEIR_TLS_PLANE === 'node';
  /** Connect timeouts by their length: upstreams share a handful of values. */
  const dialQueues = new Map<number, DeadlineQueue<BunOutbound>>();
  const dialQueue = (ms: number): DeadlineQueue<BunOutbound> => {
    let q = dialQueues.get(ms);
    if (q === undefined) dialQueues.set(ms, (q = new DeadlineQueue(ms, onDialTimeout)));
    return q;
  };
  // TLS listeners are native too: the ClientHello is peeked natively and the socket upgraded in place with the
  // certificate chosen from it (tls.ts). Upstream TLS (and nodeTls) runs on node:tls through the node
  // plane; a pair of one of each is bridged. The node plane (and node:net/node:tls with it) is loaded through the
  // seam (load-node-plane.ts) on its first use, not at start.
  let nodePlane: NodeTcpPlane | null = null;
  let nodeLoading: Promise<NodeTcpPlane> | null = null;
  const loadNode = (): Promise<NodeTcpPlane> => (nodeLoading ??= loadNodeTcpPlane().then((plane) => (nodePlane = plane)));
  /** The node plane for a connection it made, so it is loaded. */
  const node = (): NodeTcpPlane => {
    if (nodePlane === null) throw new Error('ERR_TCP_PLANE: a connection of the node plane before it was loaded');
    return nodePlane;
  };
  /** node connections taking part in a bridged pair, so that destroy() aborts the pair. */
  const bridged = new WeakMap<object, BunSide>();
  /** Wrap a node connection as `side` (a client side carries the pair's state: pass a BunPair for it). */
  function adopt<S extends BunSide>(conn: InboundConn | OutboundConn, side: S): S {
    const sock = node().socketOf(conn);
    if (sock === null) throw new Error('ERR_TCP_PLANE: pipe() got a connection from another data plane');
    adoptNodeSide(conn, sock, side, PUMP);
    bridged.set(conn, side);
    return side;
  }
  return {
    listen(addr, onConn) {
      if (addr.tls && nodeTls) return loadNode().then((plane) => plane.listen(addr, onConn));
      try {
        // the handlers learn the bound port after listen(): the object is filled in before any accept runs
        const fixed = fixedLocalHost(addr.host);
        const bound = { host: fixed ?? '', port: addr.port };
        // an inherited socket (binary upgrade) is bound and listening already: Bun takes it by descriptor
        const where = addr.fd !== undefined ? { fd: addr.fd } : { hostname: addr.host, port: addr.port, backlog: 4096, ...(options.reusePort ? { reusePort: true } : {}) };
        const handle = bun.listen<BunSide>({ ...where, allowHalfOpen: true, socket: inboundHandlers(onConn, fixed === null ? null : bound) });
        if (addr.fd !== undefined) return Promise.resolve(new BunListener(handle, addr.host, addr.port));
        bound.port = handle.port;
        return Promise.resolve(new BunListener(handle, unmapIpv4(handle.hostname), handle.port));
      } catch (err) {
        return Promise.reject(err);
      }
    },

    connect(host, port, timeoutMs, done, tls, prefix) {
      if (tls) {
        if (nodePlane !== null) return nodePlane.connect(host, port, timeoutMs, done, tls, prefix);
        loadNode().then(
          (plane) => plane.connect(host, port, timeoutMs, done, tls, prefix),
          (err: Error) => done({ kind: 'other', code: 'ERR_TCP_PLANE', message: err.message }, null),
        );
        return;
      }
      const side = new BunOutbound(host, port);
      // the prefix goes out on open, before done(): a closure only for the connections that have one
      side.dialDone = prefix == null || prefix.length === 0 ? done : withPrefix(done, prefix);
      side.dialQueue = dialQueue(timeoutMs);
      side.dialQueue.add(side, Date.now());
      // failures arrive in connectError; the promise only needs its rejection handled
      bun.connect<BunSide>({ hostname: host, port, allowHalfOpen: true, data: side, socket: outboundHandlers }).catch(ignore);
    },

    preread(conn, maxBytes, timeoutMs, cb) {
      if (conn instanceof BunInbound) startPreread(conn, maxBytes, timeoutMs, cb);
      else node().preread(conn, maxBytes, timeoutMs, cb);
    },

    consume(conn, bytes) {
      if (conn instanceof BunInbound) consumeEarly(conn, bytes);
      else node().consume(conn, bytes);
    },

    startTls(conn, opts, done) {
      if (!(conn instanceof BunInbound)) return node().startTls(conn, opts, done);
      startBunTls(conn, opts, done, tlsHandlers);
    },

    tlsSession(conn) {
      if (conn instanceof BunInbound) return bunTlsSession(conn);
      return nodePlane === null ? null : nodePlane.tlsSession(conn);
    },

    pipe(client, upstream, opts, done) {
      const cBun = client instanceof BunInbound;
      const uBun = upstream instanceof BunOutbound;
      if (!cBun && !uBun) return node().pipe(client, upstream, opts, done);
      // one side is node:tls (terminated TLS, or TLS to the upstream): wrap it, then pump as usual
      const c = cBun ? (client as BunInbound) : adopt(client, new BunPair());
      const u = uBun ? (upstream as BunOutbound) : adopt(upstream, new BunSide(false));
      c.join(u, sweeper, opts, done as PipeDone<PipeOptions>);
      if (c.closed || u.closed) {
        // a side died while the upstream was being dialled; its close event came before the pair existed
        if (c.closed) fail(c, 'client_error', c.error ?? 'client closed before the pipe started');
        else fail(c, 'upstream_error', u.error ?? 'upstream closed before the pipe started');
        if (c.closed) sideClosed(c, c);
        if (u.closed) sideClosed(c, u);
        return;
      }
      sweeper.add(c, opts.idleTimeoutMs);
      // the prefix first (what the socket does not take is queued, and the client's bytes queue behind it),
      // then what the client sent before pipe() or during a preread
      const prefix = opts.upstreamPrefix;
      if (prefix !== null) {
        if (c.early !== null && c.early.length > 0) writeWithPrefix(c, u, prefix);
        else writeOrQueue(u, prefix);
      }
      if (c.early !== null) replayEarly(c);
      if (u.early !== null) replayEarly(u);
      // a FIN seen before the pipe existed is passed on now
      if (c.eof && u.queue === null) sendFin(u);
      if (u.eof && c.queue === null) sendFin(c);
      // a side whose peer still has bytes queued reads again on the peer's drain (onDrain)
      // (unless the bytes a preread left already put a side over its rate: its hold resumes it)
      if (u.queue === null && !isHeld(c, c)) resumeSide(c);
      if (c.queue === null && !isHeld(c, u)) resumeSide(u);
    },

    pipeCounts(client, into) {
      // a Bun client is its pair's state; a node client of a bridged pair maps to it; else the node plane pumps it
      const pair = client instanceof BunPair ? client.pair : (bridged.get(client)?.pair ?? null);
      if (pair === null) return nodePlane !== null && !(client instanceof BunSide) ? nodePlane.pipeCounts(client, into) : false;
      if (pair.finished) return false;
      into.bytesFromClient = pair.bytesFromClient;
      into.bytesToClient = pair.bytesToClient;
      into.idleMs = pair.activity !== pair.seenActivity ? 0 : Date.now() - pair.quietSince;
      return true;
    },

    exchange(conn, request, maxBytes, timeoutMs, cb) {
      if (!(conn instanceof BunOutbound)) return node().exchange(conn, request, maxBytes, timeoutMs, cb);
      if (!conn.closed && request.length > 0) writeOrQueue(conn, request);
      startPreread(conn, maxBytes, timeoutMs, cb);
    },

    destroy(conn) {
      if (!(conn instanceof BunSide)) {
        const side = bridged.get(conn);
        if (side?.pair && !side.pair.finished) return fail(side.pair, 'aborted');
        return node().destroy(conn);
      }
      const side = conn as BunSide;
      if (side.pair !== null && !side.pair.finished) return fail(side.pair, 'aborted');
      if (side instanceof BunOutbound && side.dialDone !== null) {
        side.dialDone = null;
        settleDial(side);
      }
      if (side.socket === null || side.closed) return;
      // an upstream that was never piped (a probe, or a dial that shutdown overtook) is closed at once, as the
      // node plane's destroy() does: end() would keep the socket until the node closes its side
      if (side instanceof BunOutbound) side.socket.terminate();
      else side.socket.end();
    },
  };
}

/** A dial whose prefix is written as soon as the socket is open (queued if the kernel takes only part). */
function withPrefix(done: (err: ConnectError | null, conn: OutboundConn | null) => void, prefix: Uint8Array) {
  return (err: ConnectError | null, conn: OutboundConn | null): void => {
    if (conn !== null) writeOrQueue(conn as BunOutbound, prefix);
    done(err, conn);
  };
}

/**
 * The prefix (a PROXY header) and the client's first early chunk in one write: one send() and one segment to
 * the upstream instead of two (counted with strace: a sendto per connection less). Counted like onData counts
 * the chunk: its bytes alone are the client's.
 */
function writeWithPrefix(c: BunPair, u: BunSide, prefix: Uint8Array): void {
  const first = c.early!.shift()!;
  const joined = Buffer.allocUnsafe(prefix.length + first.length);
  joined.set(prefix, 0);
  joined.set(first, prefix.length);
  c.bytesFromClient += first.length;
  c.activity++;
  if (!writeOrQueue(u, joined)) pauseSide(c);
}

function replayEarly(side: BunSide): void {
  const chunks = side.early!;
  side.early = null;
  for (const chunk of chunks) onData(side.socket!, chunk);
}
