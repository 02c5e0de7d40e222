// The UDP data plane on Bun.udpSocket: listeners and one connected upstream socket per session.
// Sends are collected during one event-loop turn and leave with one sendMany() per socket (sendmmsg),
// flushed from a single setImmediate; Bun receives with recvmmsg and calls `data` once per datagram.

import type dgramTypes from 'node:dgram';
import { nodeBuiltin } from '../builtin';
import { unmapIpv4 } from '../../lib/ip';
import { logger } from '../../log/logger';
import { bunApi, type BunUdpHandlers, type BunUdpSocket } from '../bun/api';
import type { UdpDataPlane, UdpListener, UdpListenerHandler, UdpPlaneOptions, UdpSocketError, UdpUpstream, UdpUpstreamHandlers } from '../types';
import { DEFAULT_LISTENER_RCVBUF, noteRecvBuffer } from './recv-buffer';

/** Datagrams an upstream socket holds while it is still connecting; more are dropped (as in udp/node.ts). */
const MAX_QUEUED = 16;
/** Datagrams one socket may have waiting for the end of the turn; beyond that they are dropped, as a full kernel buffer would. */
const MAX_BATCH = 4096;
// SO_RCVBUF is asked for on listeners, as udp/node.ts does (recv-buffer.ts). The default (rmem_default, 212992
// bytes) holds only 256 small datagrams: a burst of 600 from 200 clients lost 344.

type BufferSizeHolder = Record<symbol, { handle: { socket: BunUdpSocket } }>;
type BufferSizeCall = (this: BufferSizeHolder, size?: number) => number;
let bufferSymbol: symbol | null | undefined;

/**
 * Bun.udpSocket takes no buffer-size option, but Bun's node:dgram sets SO_RCVBUF natively on the
 * Bun.udpSocket it wraps, found under its private "state symbol". Handing it ours reaches the same setsockopt
 * on every platform Bun supports. Returns the size the kernel granted (Linux reports twice the request),
 * or throws with the reason when this Bun has no such path.
 */
export function setRecvBufferSize(socket: BunUdpSocket, size: number): number {
  const dgram = nodeBuiltin<typeof dgramTypes>('node:dgram');
  if (bufferSymbol === undefined) {
    const probe = dgram.createSocket('udp4');
    bufferSymbol = Object.getOwnPropertySymbols(probe).find((sym) => sym.description === 'state symbol') ?? null;
  }
  if (bufferSymbol === null) throw new Error("this Bun's node:dgram has no state symbol");
  const proto = dgram.Socket.prototype as unknown as { setRecvBufferSize: BufferSizeCall; getRecvBufferSize: BufferSizeCall };
  const holder: BufferSizeHolder = { [bufferSymbol]: { handle: { socket } } };
  proto.setRecvBufferSize.call(holder, size);
  return proto.getRecvBufferSize.call(holder);
}

/** Ask for `size`; returns what the kernel granted, or null (warned about once) when this Bun has no way to ask. */
function enlargeRecvBuffer(socket: BunUdpSocket, size: number, listen: string): number | null {
  try {
    const granted = setRecvBufferSize(socket, size);
    noteRecvBuffer(listen, size, granted);
    return granted;
  } catch (err) {
    // a smaller buffer only means earlier drops under a burst: say so once, keep serving
    noteRecvBuffer(listen, size, null, (err as Error).message);
    return null;
  }
}

type Owned<T> = BunUdpSocket & { owner: T };

/**
 * Bun hands every received datagram in a fresh Buffer, so a datagram passed straight back to send()
 * can wait for the flush. `lent` is the one being shown to a callback right now; any other bytes are
 * copied, because the caller may reuse them once send() returns.
 */
let lent: Uint8Array | null = null;
function keepable(data: Uint8Array): Uint8Array {
  return data === lent ? data : Uint8Array.prototype.slice.call(data);
}

/** Sockets with sends waiting for the end of this turn. */
const dirty: Array<BunListener | BunUpstream<unknown>> = [];
let scheduled = false;
function markDirty(s: BunListener | BunUpstream<unknown>): void {
  if (s.dirty) return;
  s.dirty = true;
  dirty.push(s);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushAll);
  }
}
function flushAll(): void {
  scheduled = false;
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}

class BunListener implements UdpListener {
  dirty = false;
  get fd(): number | undefined {
    return this.socket.fd;
  }
  /** Flat [data, port, address, ...] as sendMany() takes it. */
  out: Array<Uint8Array | number | string> = [];
  closed = false;
  private readonly mapV4: boolean;
  constructor(
    readonly socket: Owned<BunListener>,
    readonly host: string,
    readonly port: number,
    readonly rcvbuf: number | null,
    readonly onDatagram: UdpListenerHandler,
  ) {
    socket.owner = this;
    this.mapV4 = host.includes(':'); // an IPv6 address (hostnames and IPv4 have no colon)
  }

  send(data: Uint8Array, address: string, port: number): void {
    if (this.closed || this.out.length >= MAX_BATCH * 3) return;
    const to = this.mapV4 && !address.includes(':') ? `::ffff:${address}` : address;
    this.out.push(keepable(data), port, to);
    markDirty(this);
  }

  flush(): void {
    this.dirty = false;
    if (this.out.length === 0 || this.closed) return;
    const batch = this.out;
    this.out = [];
    try {
      // fewer sent than given = the kernel buffer was full: those datagrams are lost, as UDP allows
      this.socket.sendMany(batch);
    } catch (err) {
      logger.warn('udp listener send failed', { listen: `${this.host}:${this.port}`, error: (err as Error).message });
    }
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.socket.close();
    }
    return Promise.resolve();
  }
}

const listenerHandlers: BunUdpHandlers = {
  data(s, data, port, address) {
    const l = (s as Owned<BunListener>).owner;
    if (l === undefined || l.closed) return;
    lent = data;
    try {
      l.onDatagram(l, data, unmapIpv4(address), port);
    } finally {
      lent = null;
    }
  },
};

class BunUpstream<C> implements UdpUpstream<C> {
  socket: Owned<BunUpstream<C>> | null = null;
  dirty = false;
  closed = false;
  /** Waiting for the socket (connecting) or for the end of the turn. */
  out: Uint8Array[] = [];
  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly handlers: UdpUpstreamHandlers<C>,
    readonly context: C,
  ) {}

  send(data: Uint8Array): void {
    if (this.closed) return;
    if (this.socket === null) {
      if (this.out.length < MAX_QUEUED) this.out.push(keepable(data));
      return;
    }
    if (this.out.length >= MAX_BATCH) return;
    this.out.push(keepable(data));
    markDirty(this as BunUpstream<unknown>);
  }

  flush(): void {
    this.dirty = false;
    const s = this.socket;
    if (s === null || this.out.length === 0) return;
    const batch = this.out;
    this.out = [];
    try {
      if (batch.length === 1) s.send(batch[0]!);
      else s.sendMany(batch);
    } catch (err) {
      if (!this.closed) this.handlers.onError(this, toSocketError(err as Error & { code?: string }));
    }
    if (this.closed) s.close(); // close() waited for these datagrams
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // datagrams accepted by send() still leave: the flush (or the connect) closes the socket after them
    if (this.socket !== null && !this.dirty) this.socket.close();
  }

  /** The socket is connected. */
  opened(s: Owned<BunUpstream<C>>): void {
    s.owner = this;
    this.socket = s;
    if (this.out.length > 0) markDirty(this as BunUpstream<unknown>);
    else if (this.closed) s.close();
  }

  failed(err: Error & { code?: string }): void {
    if (!this.closed) this.handlers.onError(this, toSocketError(err));
  }
}

function toSocketError(err: Error & { code?: string }): UdpSocketError {
  const code = err.code ?? 'ERR_UDP';
  const kind = code === 'ECONNREFUSED' ? 'refused' : code === 'EHOSTUNREACH' || code === 'ENETUNREACH' ? 'unreachable' : 'other';
  return { kind, code, message: err.message };
}

function onUpstreamData(s: BunUdpSocket, data: Buffer): void {
  const u = (s as Owned<BunUpstream<unknown>>).owner;
  if (u === undefined || u.closed) return;
  lent = data;
  try {
    u.handlers.onDatagram(u, data);
  } finally {
    lent = null;
  }
}

/**
 * Handlers of one upstream socket. Bun calls `error` with the error alone (an ICMP port unreachable shows
 * up as ECONNREFUSED there), not with the socket, so this one object per session carries its owner.
 */
function upstreamHandlers(up: BunUpstream<unknown>): BunUdpHandlers {
  return {
    data: onUpstreamData,
    error(err) {
      up.failed(err);
    },
  };
}

/**
 * Bun.udpSocket ignores a `reusePort` option (Bun 1.4), but takes the socket flags Bun's own node:dgram passes
 * it: `createSocket({reusePort: true})` arrives as bit 4 (SO_REUSEPORT; 8 is IPV6_V6ONLY, 16 SO_REUSEADDR).
 * Setting that bit keeps the native sendmmsg path on every worker; test/runtime/udp/bun.test.ts checks that two
 * sockets with it share a port, so a Bun release that renumbers the bits fails there, not in production.
 */
export const UDP_REUSEPORT_FLAG = 4;

/** The Bun-native UdpDataPlane. Only valid under Bun. */
export function createBunUdpDataPlane(options: UdpPlaneOptions = {}): UdpDataPlane {
  const bun = bunApi();
  const rcvbuf = options.rcvbuf ?? DEFAULT_LISTENER_RCVBUF;
  return {
    async bind(addr, onDatagram) {
      // an inherited socket (binary upgrade) is already bound, with its buffer size set
      const socket = (await bun.udpSocket(
        addr.fd !== undefined
          ? { fd: addr.fd, socket: listenerHandlers }
          : { hostname: addr.host, port: addr.port, ...(options.reusePort ? { flags: UDP_REUSEPORT_FLAG } : {}), socket: listenerHandlers },
      )) as Owned<BunListener>;
      const granted = addr.fd === undefined ? enlargeRecvBuffer(socket, rcvbuf, `${addr.host}:${socket.port}`) : null;
      return new BunListener(socket, addr.host, addr.fd !== undefined ? addr.port : socket.port, granted, onDatagram);
    },

    open<C>(host: string, port: number, handlers: UdpUpstreamHandlers<C>, context: C): UdpUpstream<C> {
      const up = new BunUpstream<C>(host, port, handlers, context);
      const local = host.includes(':') ? '::' : '0.0.0.0';
      bun.udpSocket({ hostname: local, connect: { hostname: host, port }, socket: upstreamHandlers(up as BunUpstream<unknown>) }).then(
        (s) => up.opened(s as Owned<BunUpstream<C>>),
        (err: Error & { code?: string }) => up.failed(err),
      );
      return up;
    },
  };
}
