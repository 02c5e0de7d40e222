// The slice of Bun's native socket API (Bun.listen, Bun.connect, Bun.udpSocket) that weir's Bun data plane uses.
// Typed here because the project does not depend on bun-types; reached only through bunApi(), on Bun only.

/** A TCP socket as Bun hands it to the shared handler object; `data` is weir's per-connection state. */
export interface BunTcpSocket<T> {
  data: T;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Bytes the kernel took (Bun does not buffer): 0..length, or -1 when the socket is closed. */
  write(data: Uint8Array): number;
  /** Send a FIN; reading continues (half-close). end() would close both directions, even with allowHalfOpen. */
  shutdown(): void;
  /** Flush and close both directions. */
  end(): void;
  /** Close at once, dropping anything unsent. */
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(on: boolean): boolean;
  /**
   * Wrap this socket in TLS in place (server side with isServer; `initialData` = bytes already read from it,
   * e.g. a peeked ClientHello). Returns [raw, tls]; from then on the `socket` handlers get the TLS socket's events.
   */
  upgradeTLS(opts: {
    data: T;
    tls: { secureContext: unknown; requestCert?: boolean; rejectUnauthorized?: boolean };
    socket: BunTcpHandlers<T>;
    isServer?: boolean;
    initialData?: Uint8Array;
  }): [BunTcpSocket<T>, BunTlsSocket<T>];
}

/** A TLS socket (from upgradeTLS): the same calls plus what a terminated handshake reports. */
export interface BunTlsSocket<T> extends BunTcpSocket<T> {
  getServername(): string | undefined;
  getTLSVersion(): string | null;
  /** Native argument is "abbreviated" (the opposite of node:tls's `detailed`): false includes issuerCertificate. */
  getPeerCertificate(abbreviated?: boolean): unknown;
  /** The negotiated cipher (OpenSSL/BoringSSL name); optional: read only for a PROXY header's SSL TLV. */
  getCipher?(): { name?: string } | null;
  isSessionReused?(): boolean;
}

/** Shared handlers: one object for every connection of a listener (no per-connection closures). */
export interface BunTcpHandlers<T> {
  open?(s: BunTcpSocket<T>): void;
  data?(s: BunTcpSocket<T>, chunk: Buffer): void;
  drain?(s: BunTcpSocket<T>): void;
  /** FIN received (with allowHalfOpen the socket stays writable). */
  end?(s: BunTcpSocket<T>): void;
  /** Closed for good; `err` is set when a socket error (e.g. ECONNRESET) ended it. */
  close?(s: BunTcpSocket<T>, err?: Error & { code?: string }): void;
  error?(s: BunTcpSocket<T>, err: Error & { code?: string }): void;
  connectError?(s: BunTcpSocket<T>, err: Error & { code?: string }): void;
  /** TLS sockets: the handshake is over; `authError` is set when the peer's certificate did not verify. */
  handshake?(s: BunTlsSocket<T>, success: boolean, authError: Error | null): void;
}

export interface BunTcpListener {
  readonly hostname: string;
  readonly port: number;
  /** The listening socket's descriptor. */
  readonly fd: number;
  /** Stop accepting; `closeActive` false keeps open connections. */
  stop(closeActive?: boolean): void;
}

export interface BunUdpSocket {
  readonly hostname: string;
  readonly port: number;
  readonly fd?: number;
  /** Unconnected: send(data, port, address); connected: send(data). False when the kernel buffer is full. */
  send(data: Uint8Array, port?: number, address?: string): boolean;
  /** Unconnected: flat [data, port, address, ...]; connected: [data, ...]. Returns the datagrams sent. */
  sendMany(packets: ReadonlyArray<Uint8Array | number | string>): number;
  close(): void;
  ref?(): void;
  unref?(): void;
}

export interface BunUdpHandlers {
  data?(s: BunUdpSocket, data: Buffer, port: number, address: string): void;
  drain?(s: BunUdpSocket): void;
  /** Called with the error only (Bun passes no socket here). */
  error?(err: Error & { code?: string }): void;
}

export interface BunApi {
  listen<T>(opts: {
    hostname?: string;
    port?: number;
    /** Listen on this already bound socket (hostname and port are then not used). */
    fd?: number;
    allowHalfOpen?: boolean;
    reusePort?: boolean;
    exclusive?: boolean;
    backlog?: number;
    socket: BunTcpHandlers<T>;
  }): BunTcpListener;
  connect<T>(opts: {
    hostname: string;
    port: number;
    allowHalfOpen?: boolean;
    data?: T;
    socket: BunTcpHandlers<T>;
  }): Promise<BunTcpSocket<T>>;
  udpSocket(opts: {
    hostname?: string;
    port?: number;
    /** Use this already bound socket. */
    fd?: number;
    /** Socket flags as Bun's node:dgram passes them (UDP_REUSEPORT_FLAG in udp/bun.ts). */
    flags?: number;
    connect?: { hostname: string; port: number };
    binaryType?: 'buffer';
    socket: BunUdpHandlers;
  }): Promise<BunUdpSocket>;
}

/** Bun's global, typed. Only the Bun data planes call this, and only when detectRuntime() said 'bun'. */
export function bunApi(): BunApi {
  const bun = (globalThis as { Bun?: BunApi }).Bun;
  if (bun === undefined) throw new Error('ERR_RUNTIME: the Bun data plane needs Bun');
  return bun;
}
