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
  /** Request line and headers deadline (default HEADERS_TIMEOUT_MS, 10 s; tests shorten it). */
  headersTimeoutMs?: number;
  /** Whole-request deadline, body included (default REQUEST_TIMEOUT_MS, 30 s). */
  requestTimeoutMs?: number;
}

export interface HttpServerHandle {
  readonly host: string;
  readonly port: number;
  /**
   * Stop listening. By default open connections are dropped too; `{ graceful: true }` lets requests in progress
   * finish (a binary upgrade hands the port to the new process while the old one answers what it has).
   */
  close(opts?: { graceful?: boolean }): Promise<void>;
}

// ---------------------------------------------------------------- TCP data plane

/**
 * Where to listen. With `fd`, the socket already exists (inherited from the process that bound `host:port`,
 * during a binary upgrade): the plane listens on it instead of binding, and both processes share its queue.
 */
export interface ListenAddress {
  host: string;
  port: number;
  fd?: number;
}

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

/** 'tls': TCP connected but the TLS handshake to the upstream failed (only when connect() got TLS options). */
export type ConnectErrorKind = 'refused' | 'timeout' | 'unreachable' | 'tls' | 'other';

export interface ConnectError {
  kind: ConnectErrorKind;
  /** e.g. "ECONNREFUSED" */
  code: string;
  message: string;
}

export interface PipeOptions {
  /** Close both sides after this long with no bytes in either direction (nginx proxy_timeout). */
  idleTimeoutMs: number;
  /** Bytes to write to the upstream before any client byte (a PROXY protocol header); null for none. */
  upstreamPrefix: Uint8Array | null;
  /**
   * Latency hook (ewma): true asks the plane to time the first upstream byte that arrives after the first
   * client byte it forwarded, and to report it once through replyLatency(). Read once, when the pipe starts;
   * absent or false: nothing is timed (one field test per chunk is all it costs).
   */
  readonly timeReply?: boolean;
  /** Called at most once per pipe when timeReply was set: milliseconds from the first client byte to the reply. */
  replyLatency?(ms: number): void;
  /** Bandwidth limits (limit-bandwidth); absent or null for none. Read once, when the pipe starts. */
  throttle?: PipeThrottle | null;
}

/**
 * Bandwidth limits of one piped connection. After forwarding a chunk it read from the client (`upload`) or
 * from the upstream, the plane reports it here; a positive answer is how many milliseconds to stop reading
 * that side (the chunk itself has gone out: at most one chunk per side beyond the limit, never a buffer).
 * The plane resumes by itself when the time is up and the other side is not applying backpressure.
 * A pipe without a throttle takes another path in the plane and pays nothing for this.
 */
export interface PipeThrottle {
  consumed(upload: boolean, bytes: number): number;
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

export type PipeDone<O extends PipeOptions = PipeOptions> = (r: PipeResult, opts: O) => void;

/** What a running pipe has done so far (TcpDataPlane.pipeCounts fills it in place). */
export interface PipeCounts {
  bytesFromClient: number;
  bytesToClient: number;
  /** Time since the last byte either way, as coarse as the idle timer: 0 when bytes moved since its last tick. */
  idleMs: number;
}

export interface TcpListener {
  readonly host: string;
  readonly port: number;
  /** The listening socket's file descriptor, where the runtime tells it (passed on by a binary upgrade). */
  readonly fd?: number;
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
  /**
   * Bind and accept. Rejects with an Error whose `code` is e.g. "EADDRINUSE".
   * `tls: true` tells the plane that every connection of this listener will go through preread()
   * and usually startTls(); a plane without its own TLS may hand such a listener to the node plane.
   */
  listen(addr: ListenAddress & { tls?: boolean }, onConn: (conn: InboundConn) => void): Promise<TcpListener>;
  /**
   * Dial an upstream; calls back exactly once. With `tls`, the callback comes after the TLS handshake
   * with the node (its time counts against timeoutMs; a failed handshake is kind 'tls').
   * `prefix` (a PROXY protocol header, a health check's LOCAL header) is written on the TCP connection as
   * soon as it is up: before the TLS handshake when `tls` is given, and before `done` is called. The plane
   * may hold on to its bytes until they are written: do not change them.
   */
  connect(
    host: string,
    port: number,
    timeoutMs: number,
    done: (err: ConnectError | null, conn: OutboundConn | null) => void,
    tls?: TlsConnectOptions | null,
    prefix?: Uint8Array | null,
  ): void;
  /**
   * Look at the client's first bytes without consuming them; see PrereadCallback. Reading stops when
   * the callback returns true or a final state is reported; the bytes stay queued on the connection:
   * pipe() forwards them first, startTls() feeds them to the handshake. One preread at a time per conn; a
   * later one (a filter's, after the TLS prelude's) sees the bytes the earlier one left queued, again.
   */
  preread(conn: InboundConn, maxBytes: number, timeoutMs: number, cb: PrereadCallback): void;
  /**
   * Drop the first `bytes` of what preread() reported (a PROXY protocol header), so that what comes next
   * (the following preread callbacks, startTls(), pipe()) begins after them. Call it from a preread
   * callback (the next callback's view then starts after the dropped bytes, and they no longer count
   * against maxBytes) or after the preread ended and before startTls()/pipe(); never for more bytes than
   * were reported. Only connections with a PROXY protocol listener call it.
   */
  consume(conn: InboundConn, bytes: number): void;
  /**
   * What the TLS session of a connection startTls() terminated looks like (a PROXY header's SSL TLV), or
   * null when the connection is not one. Read on demand, once per such connection at most.
   */
  tlsSession(conn: InboundConn): TlsSessionFacts | null;
  /**
   * Terminate TLS on an accepted connection (after preread, so the certificate is already chosen).
   * Calls back exactly once; on success the same conn carries plaintext from then on (pipe() works on
   * it), on failure the conn is already destroyed. The plane caches one secure context per
   * TlsCertificate object (identity), never one per handshake.
   */
  startTls(conn: InboundConn, opts: TlsAcceptOptions, done: (err: TlsAcceptError | null, info: TlsAccepted | null) => void): void;
  /**
   * Start pumping; `done` is called exactly once, after both sockets are closed, with `opts` handed back:
   * one shared callback can serve every connection (no closure kept per proxied connection).
   * The upstream gets opts.upstreamPrefix first (read once, here; queued with backpressure like any chunk, so
   * the plane may hold on to its bytes until they are written: do not change them), then the bytes a preread()
   * left queued, then the rest of the client's. The prefix is not counted in bytesFromClient.
   */
  pipe<O extends PipeOptions>(client: InboundConn, upstream: OutboundConn, opts: O, done: PipeDone<O>): void;
  /**
   * Health probes: write `request` (may be empty) to a connected upstream that will not be piped, then show
   * what it answers as preread() shows a client's first bytes (same states and callback rules; 'timeout'
   * after timeoutMs without a decision). The caller destroys the connection once it has decided.
   */
  exchange(conn: OutboundConn, request: Uint8Array, maxBytes: number, timeoutMs: number, cb: PrereadCallback): void;
  /** Close a connection that is not (or no longer) piped, or abort a running pipe: reason "aborted". */
  destroy(conn: InboundConn | OutboundConn): void;
  /**
   * What a running pipe has done so far, written into `into` (the bytes its PipeResult will count, and the time
   * since its last byte either way, as coarse as the idle timer: 0 when bytes moved since its last tick); false
   * when `client` is not piped (yet, or any more). Reads the pump's own counters: O(1), no allocation. The
   * metrics call it per open connection per scrape, the Admin API's connection view per listed connection.
   */
  pipeCounts(client: InboundConn, into: PipeCounts): boolean;
}

// ---------------------------------------------------------------- TLS (issue 4)

/**
 * States reported to a preread callback, with every byte read so far and not consumed (the view is valid
 * only during the call). 'data': more bytes arrived; return true when enough was seen, false to wait for
 * more. The others are final (the return value is ignored): 'full' the callback asked for more while
 * maxBytes were held (every chunk is shown as 'data' first, so a header followed by the client's data in
 * one segment is seen whole), 'eof' the client closed its side, 'timeout' nothing decisive arrived within
 * timeoutMs, 'error' a socket error.
 */
export type PrereadState = 'data' | 'full' | 'eof' | 'timeout' | 'error';
export type PrereadCallback = (bytes: Uint8Array, state: PrereadState) => boolean;

/** One certificate/key pair in PEM. */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

/**
 * A compiled server certificate set (one SSL object), immutable. Its identity is the plane's cache
 * key for the secure context: the snapshot builds a new object only when the SSL row changes.
 */
export interface TlsCertificate {
  /** First the SSL object's cert/key, then its certs/keys (e.g. RSA + ECDSA). */
  readonly pairs: readonly PemPair[];
  /** mTLS: PEM bundle a client certificate must chain to; null = no client certificate asked for. */
  readonly clientCa: string | null;
  /** mTLS: maximum client chain verification depth (APISIX client.depth, default 1). */
  readonly clientDepth: number;
  /** Allowed versions, e.g. ["TLSv1.2","TLSv1.3"]; empty = the runtime's defaults. */
  readonly protocols: readonly string[];
}

export interface TlsAcceptOptions {
  certificate: TlsCertificate;
  /** The whole handshake must finish within this. */
  timeoutMs: number;
}

export interface TlsAccepted {
  /** The negotiated SNI as the client sent it, or null. */
  servername: string | null;
  /** e.g. "TLSv1.3" */
  protocol: string;
}

/** A terminated TLS session, as a PROXY header's SSL TLV describes it (tlsSession()). */
export interface TlsSessionFacts {
  /** e.g. "TLSv1.3" */
  version: string | null;
  /** OpenSSL's name of the cipher, e.g. "TLS_AES_128_GCM_SHA256". */
  cipher: string | null;
  /** The client presented a certificate in this session (mTLS). */
  certPresented: boolean;
  /** ...and it verified against the SSL object's client.ca (a presented one always has: the handshake requires it). */
  certVerified: boolean;
  /** Subject CN of the client certificate. */
  cn: string | null;
  /** The session was resumed: a certificate, if any, came on an earlier connection. */
  sessionReused: boolean;
}

export interface TlsAcceptError {
  /** 'timeout' | 'client_cert' (missing or unverified, mTLS) | 'handshake' (anything else) */
  kind: 'timeout' | 'client_cert' | 'handshake';
  message: string;
}

/**
 * Upstream TLS settings, compiled once per upstream version; the plane caches one client secure
 * context per object (identity).
 */
export interface TlsClientConfig {
  /** Verify the node's certificate (against `ca`, else the runtime's default roots). Off by default, as in APISIX. */
  readonly verify: boolean;
  readonly ca: string | null;
  /** Upstream mTLS: both set or both null. */
  readonly cert: string | null;
  readonly key: string | null;
}

export interface TlsConnectOptions {
  config: TlsClientConfig;
  /** SNI to send: the client's SNI when it came over TLS, else "apisix_backend". */
  servername: string;
}

// ---------------------------------------------------------------- UDP data plane (issue 3)

/**
 * Called for every datagram a listener receives, with the client's address (IPv4-mapped IPv6 reported
 * as plain IPv4) and port. `data` is valid only during the call: an implementation may reuse its
 * memory afterwards, so keep a copy of anything needed later. The handler is shared by all datagrams
 * of a listener; it must not throw.
 */
export type UdpListenerHandler = (listener: UdpListener, data: Uint8Array, address: string, port: number) => void;

/** A bound listener socket. Replies to clients leave from it, so clients see the address they sent to. */
export interface UdpListener {
  /** The bound address ("0.0.0.0" / "::" for wildcard binds; see README: no per-datagram local address). */
  readonly host: string;
  readonly port: number;
  /** The socket's file descriptor, where the runtime tells it (passed on by a binary upgrade). */
  readonly fd?: number;
  /**
   * The receive buffer the kernel granted (SO_RCVBUF as getsockopt reports it: Linux books twice the request,
   * capped at net.core.rmem_max), or null when the runtime cannot tell.
   */
  readonly rcvbuf: number | null;
  /**
   * Send one datagram to a client. Fire and forget (UDP): a full send buffer or a closed socket drops it.
   * The bytes may be the `data` of the current callback; the implementation is done with them when
   * send() returns or keeps them valid itself until they are sent.
   */
  send(data: Uint8Array, address: string, port: number): void;
  /** Stop receiving and release the port. */
  close(): Promise<void>;
}

/** What went wrong on an upstream socket. 'refused' = ICMP port unreachable (nothing listens there). */
export interface UdpSocketError {
  kind: 'refused' | 'unreachable' | 'other';
  /** e.g. "ECONNREFUSED" */
  code: string;
  message: string;
}

/**
 * Callbacks shared by every upstream socket of one owner: the socket is passed in, and its `context`
 * leads back to the owner's state, so no closure is made per session or per datagram.
 */
export interface UdpUpstreamHandlers<C> {
  /** A datagram from the connected node. `data` is valid only during the call. */
  onDatagram(sock: UdpUpstream<C>, data: Uint8Array): void;
  /** A socket error (e.g. ICMP refused). The socket stays open; the owner decides to close it. */
  onError(sock: UdpUpstream<C>, err: UdpSocketError): void;
}

/** One connected upstream socket (one per session): it only receives datagrams from its node. */
export interface UdpUpstream<C> {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The owner's state for this socket (the session); never read by the plane. */
  readonly context: C;
  /**
   * Send one datagram to the node. May be called at once after open(): the plane queues a few
   * datagrams (bounded; more are dropped) until the socket is connected. Same byte rules as UdpListener.send.
   */
  send(data: Uint8Array): void;
  /**
   * Close the socket; no callback fires afterwards. Datagrams already accepted by send() still go out
   * (a socket that is still connecting flushes its queue, then closes). Idempotent.
   */
  close(): void;
}

/** How a UDP plane binds its listeners. */
export interface UdpPlaneOptions {
  /** SO_REUSEPORT on listeners (multi-core workers; Bun only). */
  reusePort?: boolean;
  /** SO_RCVBUF asked for on listeners, bytes (default 4 MiB); a grant below it is warned about once. */
  rcvbuf?: number;
}

/**
 * The datagram path of one runtime. Implementations: node:dgram (src/runtime/udp/node.ts); Bun's
 * Bun.udpSocket may batch sends within one event-loop turn, which the interface allows.
 */
export interface UdpDataPlane {
  /** Bind a listener. Rejects with an Error whose `code` is e.g. "EADDRINUSE". */
  bind(addr: ListenAddress, onDatagram: UdpListenerHandler): Promise<UdpListener>;
  /**
   * Open a UDP socket connected to host:port (host is an IP literal or a name resolved once here).
   * Never throws for network reasons: failures arrive through handlers.onError.
   */
  open<C>(host: string, port: number, handlers: UdpUpstreamHandlers<C>, context: C): UdpUpstream<C>;
}

// ---------------------------------------------------------------- HTTP client (issue 18: etcd's JSON gateway)

/** TLS towards an https:// endpoint (APISIX's deployment.etcd.tls plus apisix.ssl.ssl_trusted_certificate). */
export interface HttpClientTls {
  /** PEM CA bundle; absent = the runtime's default roots. */
  ca?: string;
  /** PEM client certificate and key (mTLS). */
  cert?: string;
  key?: string;
  /** SNI and the name checked in the certificate; absent = the URL's host. */
  servername?: string;
  /** False: accept any server certificate (etcd.tls.verify: false). */
  verify: boolean;
}

export interface HttpPostOptions {
  /** Default POST; GET sends no body (etcd's /version). */
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  /** Connect plus whole answer (post) or connect plus headers (openStream), in ms. */
  timeoutMs: number;
  tls?: HttpClientTls;
}

export interface HttpReply {
  status: number;
  body: string;
}

/** A long response read chunk by chunk (a watch). */
export interface HttpStream {
  /** Cancel: close the connection. done then settles with error null. */
  close(): void;
  /** Settles when the server ends the body (error null), or the connection fails (the error). */
  readonly done: Promise<{ error: Error | null }>;
}

/**
 * POST over HTTP/1.1, one connection per call (no pooling: a data plane makes a few calls a minute).
 * Used only by the etcd client (src/fleet/); nothing in the proxy's paths.
 */
export interface HttpClientPort {
  post(url: string, body: string, opts: HttpPostOptions): Promise<HttpReply>;
  /**
   * POST and stream the answer: resolves once the status line arrived. A status other than 200 rejects with
   * an HttpStatusError carrying the body. onText gets the body's text as it comes, in order.
   */
  openStream(url: string, body: string, opts: HttpPostOptions, onText: (text: string) => void): Promise<HttpStream>;
}

/** A non-200 answer to openStream, with the body the server sent. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
    this.name = 'HttpStatusError';
  }
}
