// The small interfaces behind which every runtime difference (Node, Bun, Deno) lives.
// Nothing outside src/runtime/ may import node:net, node:http or a SQLite driver directly.

// ---------------------------------------------------------------- SQLite

export type SqlValue = string | number | bigint | null | Uint8Array;

export interface SqlStatement {
  run(...params: SqlValue[]): { changes: number };
  /** First row, or undefined when there is none (drivers differ: bun:sqlite says null). */
  get(...params: SqlValue[]): Record<string, unknown> | undefined;
  all(...params: SqlValue[]): Record<string, unknown>[];
}

/** A synchronous SQLite connection. SQL uses positional `?` parameters. */
export interface SqlDb {
  readonly driver: string;
  exec(sql: string): void;
  prepare(sql: string): SqlStatement;
  /** Runs fn inside BEGIN IMMEDIATE ... COMMIT; rolls back and rethrows if fn throws. Not reentrant. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

// ---------------------------------------------------------------- HTTP (Admin API)

export interface RequestInfo {
  /** The peer's IP as the socket reports it (may be IPv4-mapped IPv6). */
  remoteAddress: string;
}

/**
 * A fetch-style handler. The server buffers at most `maxBodyBytes + 1` bytes of a request body and
 * hands that to the handler, so a handler that sees more than `maxBodyBytes` knows the body was too large.
 */
export type FetchHandler = (req: Request, info: RequestInfo) => Promise<Response> | Response;

export interface HttpServeOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
}

export interface HttpServerHandle {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- TCP data plane

/** The four addresses of an accepted connection. IPv4-mapped IPv6 peers are reported as plain IPv4. */
export interface TcpEndpoints {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
}

/** An accepted client connection. Opaque apart from its endpoints; reading starts only in pipe(). */
export interface InboundConn extends TcpEndpoints {}

/** A connected upstream socket, handed out by connect(). */
export interface OutboundConn {
  readonly remoteAddress: string;
  readonly remotePort: number;
}

export type ConnectErrorKind = 'refused' | 'timeout' | 'unreachable' | 'other';

export interface ConnectError {
  kind: ConnectErrorKind;
  /** e.g. "ECONNREFUSED" */
  code: string;
  message: string;
}

export interface PipeOptions {
  /** Close both sides after this long with no bytes in either direction (nginx proxy_timeout). */
  idleTimeoutMs: number;
}

export type PipeEndReason =
  | 'closed' // both directions finished normally (FIN both ways)
  | 'idle_timeout'
  | 'client_error'
  | 'upstream_error'
  | 'aborted'; // abort() was called (shutdown grace period over)

export interface PipeResult {
  /** Bytes read from the client and written to the upstream. */
  bytesFromClient: number;
  /** Bytes read from the upstream and written to the client. */
  bytesToClient: number;
  reason: PipeEndReason;
  /** The socket error message for *_error reasons. */
  error?: string;
}

export interface TcpListener {
  readonly host: string;
  readonly port: number;
  /** Stop accepting new connections; open connections are untouched. */
  stop(): Promise<void>;
}

/**
 * One proxied connection's sockets and the byte pump between them.
 * Implementations copy bytes both ways with backpressure (a slow reader stalls the other side's reads,
 * memory stays bounded), pass a half-close (FIN) on to the other side and keep the other direction
 * running, count bytes, enforce the idle timeout, and on an error on either side close both.
 */
export interface TcpDataPlane {
  /** Bind and accept. Rejects with an Error whose `code` is e.g. "EADDRINUSE". */
  listen(addr: { host: string; port: number }, onConn: (conn: InboundConn) => void): Promise<TcpListener>;
  /** Dial an upstream; calls back exactly once. */
  connect(
    host: string,
    port: number,
    timeoutMs: number,
    done: (err: ConnectError | null, conn: OutboundConn | null) => void,
  ): void;
  /** Start pumping; `done` is called exactly once, after both sockets are closed. */
  pipe(client: InboundConn, upstream: OutboundConn, opts: PipeOptions, done: (r: PipeResult) => void): void;
  /** Close a connection that is not (or no longer) piped, or abort a running pipe: reason "aborted". */
  destroy(conn: InboundConn | OutboundConn): void;
}
