// The UDP data plane on node:dgram: listener sockets, and one connected upstream socket per session.
// Event handlers are shared functions that find their state through a symbol slot: no closure per socket.

import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIP } from 'node:net';
import { unmapIpv4 } from '../../lib/ip';
import { logger } from '../../log/logger';
import type {
  UdpDataPlane,
  UdpListener,
  UdpListenerHandler,
  UdpPlaneOptions,
  UdpSocketError,
  UdpUpstream,
  UdpUpstreamHandlers,
} from '../types';
import { DEFAULT_LISTENER_RCVBUF, noteRecvBuffer } from './recv-buffer';

/** Datagrams an upstream socket holds while it is still connecting; more are dropped (UDP may lose them anyway). */
export const MAX_QUEUED_DATAGRAMS = 16;

const kState = Symbol('weir.udp');
type Slot<T> = dgram.Socket & { [kState]: T };

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * Addresses handed to send() are IP literals (client addresses from recvmsg, node hosts that are IPs),
 * so they need no resolver: answering synchronously spares node:dgram a dns.lookup round per datagram.
 * Names (node hosts such as "localhost") still go through the system resolver, once per socket.
 */
function literalLookup(address: string, family: unknown, cb: LookupCallback): void {
  const kind = isIP(address);
  if (kind !== 0) return cb(null, address, kind);
  const wanted = typeof family === 'number' ? family : 0;
  dns.lookup(address, { family: wanted }, (err, addr, fam) => cb(err, addr, fam));
}

function toSocketError(err: NodeJS.ErrnoException): UdpSocketError {
  const code = err.code ?? 'ERR_UDP';
  const kind = code === 'ECONNREFUSED' ? 'refused' : code === 'EHOSTUNREACH' || code === 'ENETUNREACH' ? 'unreachable' : 'other';
  return { kind, code, message: err.message };
}

class NodeUdpListener implements UdpListener {
  /** Dual-stack "::" sockets need IPv4 clients written back in their mapped form. */
  private readonly mapV4: boolean;
  private closed = false;
  constructor(
    readonly socket: Slot<NodeUdpListener>,
    readonly host: string,
    readonly port: number,
    readonly rcvbuf: number | null,
    readonly onDatagram: UdpListenerHandler,
  ) {
    socket[kState] = this;
    this.mapV4 = isIP(host) === 6;
  }

  /** Read only for a binary upgrade (node keeps the descriptor on its internal handle). */
  get fd(): number | undefined {
    const fd = (this.socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : undefined;
  }

  send(data: Uint8Array, address: string, port: number): void {
    if (this.closed) return;
    // node:dgram gives each received datagram its own Buffer, so forwarding it without a copy is safe.
    const to = this.mapV4 && isIP(address) === 4 ? `::ffff:${address}` : address;
    // No callback: node then skips the completion round trip; a failed send only loses this datagram.
    this.socket.send(data, port, to);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

function onListenerMessage(this: Slot<NodeUdpListener>, msg: Buffer, rinfo: dgram.RemoteInfo): void {
  const l = this[kState];
  l.onDatagram(l, msg, rinfo.family === 'IPv6' ? unmapIpv4(rinfo.address) : rinfo.address, rinfo.port);
}

function onListenerError(this: Slot<NodeUdpListener>, err: Error): void {
  logger.warn('udp listener socket error', { listen: `${this[kState].host}:${this[kState].port}`, error: err.message });
}

class NodeUdpUpstream<C> implements UdpUpstream<C> {
  connected = false;
  closed = false;
  /** Datagrams sent before connect() finished; null once connected. */
  queue: Uint8Array[] | null = [];
  constructor(
    readonly socket: Slot<NodeUdpUpstream<C>>,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly handlers: UdpUpstreamHandlers<C>,
    readonly context: C,
  ) {
    socket[kState] = this;
  }

  send(data: Uint8Array): void {
    if (this.closed) return;
    if (this.connected) {
      this.socket.send(data);
      return;
    }
    if (this.queue !== null && this.queue.length < MAX_QUEUED_DATAGRAMS) this.queue.push(data);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Still connecting with datagrams queued: they were accepted by send(), so they go out first.
    if (!this.connected && this.queue !== null && this.queue.length > 0) return;
    this.queue = null;
    this.closeSocket();
  }

  closeSocket(): void {
    try {
      this.socket.close();
    } catch {
      // already closed by node after a bind failure
    }
  }
}

function onUpstreamConnect(this: Slot<NodeUdpUpstream<unknown>>): void {
  const u = this[kState];
  u.connected = true;
  const queued = u.queue;
  u.queue = null;
  if (queued !== null) for (let i = 0; i < queued.length; i++) this.send(queued[i]!);
  if (u.closed) u.closeSocket();
}

function onUpstreamMessage(this: Slot<NodeUdpUpstream<unknown>>, msg: Buffer): void {
  const u = this[kState];
  if (!u.closed) u.handlers.onDatagram(u, msg);
}

// Linux reports an ICMP port unreachable on a connected socket as ECONNREFUSED from the next recvmsg,
// which node:dgram emits as 'error' (the socket stays usable).
function onUpstreamError(this: Slot<NodeUdpUpstream<unknown>>, err: NodeJS.ErrnoException): void {
  const u = this[kState];
  if (!u.closed) u.handlers.onError(u, toSocketError(err));
  else if (!u.connected) u.closeSocket(); // closed while connecting, and the connect failed: nothing to flush
}

/** Ask for a receive buffer so a burst is not dropped by the kernel; returns what was granted (null: unknown). */
function enlargeRecvBuffer(socket: dgram.Socket, size: number, listen: string): number | null {
  try {
    socket.setRecvBufferSize(size);
    const granted = socket.getRecvBufferSize();
    noteRecvBuffer(listen, size, granted);
    return granted;
  } catch (err) {
    // a smaller buffer only means earlier drops under a burst (a runtime's node:dgram may not implement it)
    noteRecvBuffer(listen, size, null, (err as Error).message);
    return null;
  }
}

/**
 * node:dgram implementation of UdpDataPlane. `reusePort` binds listeners with SO_REUSEPORT (Bun's node:dgram and
 * Node >= 22.12 take it; multi-core workers use it under Bun only).
 */
export function createNodeUdpDataPlane(opts: UdpPlaneOptions = {}): UdpDataPlane {
  const rcvbuf = opts.rcvbuf ?? DEFAULT_LISTENER_RCVBUF;
  return {
    bind(addr, onDatagram) {
      const type = isIP(addr.host) === 6 ? 'udp6' : 'udp4';
      const options = { type, lookup: literalLookup as never, ...(opts.reusePort ? { reusePort: true } : {}) } as dgram.SocketOptions;
      const socket = dgram.createSocket(options) as Slot<NodeUdpListener>;
      return new Promise((resolve, reject) => {
        socket.once('error', reject);
        // an inherited descriptor (binary upgrade) is bound already
        const where = addr.fd !== undefined ? { fd: addr.fd, exclusive: true } : { port: addr.port, address: addr.host, exclusive: true };
        socket.bind(where, () => {
          socket.off('error', reject);
          const bound = socket.address();
          const granted = enlargeRecvBuffer(socket, rcvbuf, `${addr.host}:${bound.port}`);
          const listener = new NodeUdpListener(socket, addr.host, bound.port, granted, onDatagram);
          socket.on('message', onListenerMessage);
          socket.on('error', onListenerError);
          resolve(listener);
        });
      });
    },

    open<C>(host: string, port: number, handlers: UdpUpstreamHandlers<C>, context: C): UdpUpstream<C> {
      const type = isIP(host) === 6 ? 'udp6' : 'udp4';
      const socket = dgram.createSocket({ type, lookup: literalLookup as never }) as Slot<NodeUdpUpstream<C>>;
      const up = new NodeUdpUpstream<C>(socket, host, port, handlers, context);
      socket.on('connect', onUpstreamConnect);
      socket.on('message', onUpstreamMessage);
      socket.on('error', onUpstreamError);
      try {
        socket.connect(port, host);
      } catch (err) {
        // e.g. port 0: report through the handler, as the interface promises
        queueMicrotask(() => onUpstreamError.call(socket as never, err as NodeJS.ErrnoException));
      }
      return up;
    },
  };
}
