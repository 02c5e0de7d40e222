// The TLS part of a TCP listener: peek at the ClientHello, then terminate (certificate by SNI from the
// current snapshot) or pass the raw bytes through, per listener or, on mixed listeners, per route.
// Hands the connection back to the plain flow (route -> dial -> pipe) with ConnInfo.sni/tls filled in.

import type { TcpListenSpec } from '../../config/types';
import type { RateLimitedWarn } from '../../log/rate-limit';
import type { InboundConn, PrereadState, TcpDataPlane } from '../../runtime/types';
import type { ConnInfo, Snapshot } from '../../snapshot/types';
import { MAX_CLIENT_HELLO, parseClientHello } from '../../tls/client-hello';
import { findCertificate } from '../../snapshot/ssl';
import { normalizeSni } from '../match/sni';
import { selectRoute } from '../match/route';

/** nginx's preread_timeout default (spec 1): a client that sends no ClientHello within it is closed. */
export const DEFAULT_PREREAD_TIMEOUT_MS = 30_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;
/** Records add 5 bytes per at most 16 KiB of handshake. */
const PREREAD_MAX = MAX_CLIENT_HELLO + 5 * Math.ceil(MAX_CLIENT_HELLO / 16384);

export type TlsMode = 'terminate' | 'passthrough' | 'mixed';

export function tlsModeOf(spec: TcpListenSpec): TlsMode | null {
  if (spec.tls && spec.tlsPassthrough) return 'mixed';
  if (spec.tls) return 'terminate';
  if (spec.tlsPassthrough) return 'passthrough';
  return null;
}

export interface TlsFlowOptions {
  plane: TcpDataPlane;
  snapshot: () => Snapshot;
  fallbackSni: string | null;
  prereadTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** Handshake-failure warnings: one line per kind of failure per period, so a scanner cannot flood the log. */
  handshakeWarnings: RateLimitedWarn;
  /** Continue with route selection, dial and pipe (the plain TCP flow). */
  proceed(client: InboundConn, info: ConnInfo, startedAt: number): void;
  /** The connection ends here: close it and write its access record (`end` is the record's reason). */
  reject(client: InboundConn, info: ConnInfo, startedAt: number, end: string, error: string): void;
}

const PREREAD_FAILURE: Record<Exclude<PrereadState, 'data'>, [string, string]> = {
  timeout: ['preread_timeout', 'no ClientHello before the preread timeout'],
  eof: ['client_closed', 'client closed before sending a ClientHello'],
  full: ['not_tls', 'ClientHello too large'],
  error: ['client_error', 'socket error before the ClientHello'],
};

/**
 * Start the TLS flow for a connection accepted on a TLS listener. Runs once per such connection;
 * allocates a closure and the parse of one ClientHello, which is small beside a handshake.
 */
export function acceptTls(opts: TlsFlowOptions, mode: TlsMode, client: InboundConn, info: ConnInfo, startedAt: number): void {
  opts.plane.preread(client, PREREAD_MAX, opts.prereadTimeoutMs, (bytes, state) => {
    if (state !== 'data') {
      const [end, why] = PREREAD_FAILURE[state];
      opts.reject(client, info, startedAt, end, why);
      return true;
    }
    const hello = parseClientHello(bytes);
    if (hello.kind === 'need-more') return false;
    if (hello.kind === 'not-tls') {
      opts.reject(client, info, startedAt, 'not_tls', hello.reason);
      return true;
    }
    const sent = hello.sni === null ? null : normalizeSni(hello.sni);
    info.sni = sent ?? opts.fallbackSni;
    const snap = opts.snapshot();
    let passthrough = mode === 'passthrough';
    if (mode === 'mixed') passthrough = selectRoute(snap, info)?.tlsPassthrough === true;
    if (passthrough) {
      info.tls = 'passthrough';
      opts.proceed(client, info, startedAt);
    } else {
      terminate(opts, snap, client, info, startedAt);
    }
    return true;
  });
}

/** Pick the certificate by SNI and run the handshake; route selection follows it (spec 4.1). */
function terminate(opts: TlsFlowOptions, snap: Snapshot, client: InboundConn, info: ConnInfo, startedAt: number): void {
  const sni = info.sni;
  if (sni === null) return fail(opts, client, info, startedAt, 'no_sni', 'failed to find SNI');
  const ssl = findCertificate(snap.certificates, sni);
  if (ssl === null) return fail(opts, client, info, startedAt, 'unknown_sni', `failed to match any SSL certificate by SNI: ${sni}`);
  opts.plane.startTls(client, { certificate: ssl.certificate, timeoutMs: opts.handshakeTimeoutMs }, (err) => {
    if (err !== null) return fail(opts, client, info, startedAt, err.kind, `${err.kind}: ${err.message}`, ssl.id);
    info.tls = 'terminated';
    opts.proceed(client, info, startedAt);
  });
}

/** `kind` groups failures for the rate limit (no_sni, unknown_sni, timeout, client_cert, handshake). */
function fail(opts: TlsFlowOptions, client: InboundConn, info: ConnInfo, startedAt: number, kind: string, why: string, ssl?: string): void {
  opts.handshakeWarnings.warn(kind, 'TLS handshake failed', {
    client: `${info.remoteAddr}:${info.remotePort}`,
    sni: info.sni ?? undefined,
    ssl,
    reason: why,
  });
  opts.reject(client, info, startedAt, 'tls_handshake_failed', why);
}
