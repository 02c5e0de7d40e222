// TLS termination on Bun-native sockets: after the native preread has read the ClientHello, the raw socket is
// upgraded in place (socket.upgradeTLS, server mode) with the bytes already read as its first input. One native
// secure context per certificate object, so a handshake never parses a key. Measured against node:tls under
// Bun in bench/README.md: about 0.6x the CPU per handshake.

import type tlsTypes from 'node:tls';
import { nodeBuiltin } from '../../builtin';
import type { BunTcpHandlers, BunTlsSocket } from '../../bun/api';
import type { BunSide } from './pair';
import type { TlsAcceptError, TlsAccepted, TlsAcceptOptions, TlsCertificate, TlsSessionFacts } from '../../types';

type Done = (err: TlsAcceptError | null, info: TlsAccepted | null) => void;

/** A handshake in progress on one side. */
export class TlsStart {
  timer: ReturnType<typeof setTimeout> | null = null;
  constructor(
    readonly done: Done,
    /** A client certificate is asked for (the SSL object has client.ca). */
    readonly mtls: boolean,
    /** mTLS: the longest client chain allowed (client.depth); 0 = not checked, as in tcp/node/tls.ts. */
    readonly depth: number,
  ) {}
}

const VERSIONS: readonly tlsTypes.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Bun's native context object behind a node:tls SecureContext (what upgradeTLS takes). */
const contexts = new WeakMap<TlsCertificate, unknown>();

/** The native secure context of a certificate object, built once. Throws when the PEM is unusable. */
function contextFor(cert: TlsCertificate): unknown {
  let ctx = contexts.get(cert);
  if (ctx !== undefined) return ctx;
  const idx = cert.protocols.map((p) => VERSIONS.indexOf(p as tlsTypes.SecureVersion)).filter((i) => i >= 0);
  const secure = nodeBuiltin<typeof tlsTypes>('node:tls').createSecureContext({
    cert: cert.pairs.map((p) => p.cert),
    key: cert.pairs.map((p) => p.key),
    ...(cert.clientCa !== null ? { ca: cert.clientCa } : {}),
    ...(idx.length > 0 ? { minVersion: VERSIONS[Math.min(...idx)], maxVersion: VERSIONS[Math.max(...idx)] } : {}),
  });
  ctx = (secure as unknown as { context?: unknown }).context;
  if (ctx === undefined) throw new Error('ERR_TLS_PLANE: this runtime has no native secure context');
  contexts.set(cert, ctx);
  return ctx;
}

function fail(side: BunSide, err: TlsAcceptError): void {
  const st = side.tls!;
  side.tls = null;
  if (st.timer !== null) clearTimeout(st.timer);
  if (side.socket !== null && !side.closed) side.socket.terminate();
  st.done(err, null);
}

function onTimeout(side: BunSide, ms: number): void {
  if (side.tls !== null) fail(side, { kind: 'timeout', message: `TLS handshake not finished after ${ms} ms` });
}

/**
 * Terminate TLS on a Bun-native inbound side whose preread is over (its bytes wait in side.early).
 * `handlers` are the plane's shared handlers plus `handshake`; events of the replaced raw socket are ignored by
 * the plane from here on (they no longer come from side.socket).
 */
export function startBunTls(side: BunSide, opts: TlsAcceptOptions, done: Done, handlers: BunTcpHandlers<BunSide>): void {
  if (side.closed || side.error !== null || side.eof) {
    queueMicrotask(() => done({ kind: 'handshake', message: 'client closed before the handshake' }, null));
    return;
  }
  let ctx: unknown;
  try {
    ctx = contextFor(opts.certificate);
  } catch (err) {
    side.socket!.terminate();
    queueMicrotask(() => done({ kind: 'handshake', message: `certificate unusable: ${(err as Error).message}` }, null));
    return;
  }
  const mtls = opts.certificate.clientCa !== null;
  const st = new TlsStart(done, mtls, mtls ? opts.certificate.clientDepth : 0);
  side.tls = st;
  st.timer = setTimeout(onTimeout, opts.timeoutMs, side, opts.timeoutMs);
  const early = side.early;
  side.early = null;
  const raw = side.socket!;
  const [, secure] = raw.upgradeTLS({
    data: side,
    tls: { secureContext: ctx, requestCert: mtls, rejectUnauthorized: mtls },
    socket: handlers,
    isServer: true,
    ...(early !== null && early.length > 0 ? { initialData: early.length === 1 ? early[0]! : Buffer.concat(early) } : {}),
  });
  side.socket = secure;
  // the preread left the raw socket paused; the handshake needs its reads
  side.paused = false;
  raw.resume();
}

/** Length of the verified client chain minus one (0 = self-signed leaf), as tcp/node/tls-context.ts counts it. */
function chainDepth(s: BunTlsSocket<BunSide>): number {
  type Cert = { issuerCertificate?: Cert } | null | undefined;
  // the native call takes "abbreviated": false asks for the chain (Bun's node:tls passes !detailed)
  let cert = s.getPeerCertificate(false) as Cert;
  let depth = 0;
  while (cert && cert.issuerCertificate && cert.issuerCertificate !== cert && depth < 32) {
    cert = cert.issuerCertificate;
    depth++;
  }
  return depth;
}

/** Bun's `handshake` event: finish startTls() one way or the other. */
export function onBunHandshake(s: BunTlsSocket<BunSide>, success: boolean, authError: Error | null): void {
  const side = s.data;
  const st = side.tls;
  if (st === null || s !== side.socket) return;
  if (authError !== null && st.mtls) {
    const missing = /NO_CERTIFICATE|NOT_RETURN|CERTIFICATE_REQUIRED/i.test(`${(authError as { code?: string }).code ?? ''} ${authError.message}`);
    return fail(side, { kind: 'client_cert', message: missing ? 'client certificate was not present' : `client certificate rejected: ${authError.message}` });
  }
  if (!success) return fail(side, { kind: 'handshake', message: authError?.message ?? 'handshake failed' });
  if (st.depth > 0 && chainDepth(s) > st.depth) {
    return fail(side, { kind: 'client_cert', message: `client certificate chain is deeper than client.depth ${st.depth}` });
  }
  side.tls = null;
  if (st.timer !== null) clearTimeout(st.timer);
  const name = s.getServername();
  st.done(null, { servername: typeof name === 'string' && name !== '' ? name : null, protocol: s.getTLSVersion() ?? 'unknown' });
}

/** The socket closed or failed during the handshake. */
export function onTlsClosed(side: BunSide): void {
  if (side.tls !== null) fail(side, { kind: 'handshake', message: side.error ?? 'client closed during the handshake' });
}

/** tlsSession(): the facts of a natively terminated connection's TLS, for an SSL TLV; null for a plain one. */
export function bunTlsSession(side: BunSide): TlsSessionFacts | null {
  const s = side.socket as BunTlsSocket<BunSide> | null;
  if (s === null || side.closed || typeof s.getTLSVersion !== 'function') return null;
  const version = s.getTLSVersion();
  if (!version) return null; // a plain socket
  const cert = s.getPeerCertificate(true) as { subject?: { CN?: string | string[] } } | null | undefined;
  const presented = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
  const cn = presented ? cert!.subject?.CN : undefined;
  const cipher = typeof s.getCipher === 'function' ? s.getCipher() : null;
  return {
    version,
    cipher: cipher?.name ?? null,
    certPresented: presented,
    // mTLS listeners reject a certificate that does not verify (rejectUnauthorized), so one that is here verified
    certVerified: presented,
    cn: typeof cn === 'string' ? cn : Array.isArray(cn) ? (cn[0] ?? null) : null,
    sessionReused: typeof s.isSessionReused === 'function' ? s.isSessionReused() : false,
  };
}
