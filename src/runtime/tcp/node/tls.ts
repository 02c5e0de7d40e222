// TLS termination on node:net: after the preread, the raw socket is handed to the never-listening
// tls.Server of its certificate (tls-context.ts); on success the TLS socket takes over the Side and the
// shared listeners, so pipe() works on it like on a plain socket.

import type tls from 'node:tls';
import { acceptError, peerChainDepth, serverFor, type TlsServerHooks } from './tls-context';
import { unwire, wire } from './events';
import { kSide, type NodeInbound, type Side, type WeirSocket } from './side';
import type { TlsAcceptError, TlsAccepted, TlsAcceptOptions, TlsSessionFacts } from '../../types';

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

/** startTls(): run the server handshake on an accepted (and usually preread) socket. Calls done once. */
export function startTls(side: NodeInbound, opts: TlsAcceptOptions, done: (err: TlsAcceptError | null, info: TlsAccepted | null) => void): void {
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
  unwire(raw);
  raw.on('error', ignoreError);
  server.emit('connection', raw);
}

function ignoreError(): void {}

/** tlsSession(): the facts of a terminated connection's TLS, for an SSL TLV; null for a plain one. */
export function tlsSessionOf(side: Side): TlsSessionFacts | null {
  const socket = side.socket as unknown as tls.TLSSocket;
  if (socket.encrypted !== true || side.closed) return null;
  const cert = socket.getPeerCertificate();
  const presented = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
  const cn = presented ? cert.subject?.CN : undefined;
  return {
    version: socket.getProtocol() ?? null,
    cipher: socket.getCipher()?.name ?? null, // OpenSSL's name, as HAProxy's SSL TLV carries it
    certPresented: presented,
    // the handshake of an mTLS listener fails unless the certificate verifies
    certVerified: presented && socket.authorized,
    cn: typeof cn === 'string' ? cn : Array.isArray(cn) ? (cn[0] ?? null) : null,
    sessionReused: socket.isSessionReused(),
  };
}
