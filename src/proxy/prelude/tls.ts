// Prelude, TLS part: peek at the ClientHello, then terminate (certificate by SNI from the current snapshot)
// or pass the raw bytes through, per listener or, on mixed listeners, per route (matched here once and kept).
// Hands the session back to the flow (match -> filters -> connect -> pipe) with its sni/tls filled in.

import type { TcpListenSpec } from '../../config/types';
import type { RateLimitedWarn } from '../../log/rate-limit';
import type { FlowMetrics } from '../../metrics/types';
import type { PrereadCallback, PrereadState, TcpDataPlane } from '../../runtime/types';
import type { Snapshot } from '../../snapshot/types';
import { findCertificate } from '../../snapshot/ssl';
import { normalizeSni } from '../match/sni';
import { selectRoute } from '../match/route';
import type { EndReason } from '../session/end-reason';
import type { TcpSession } from '../session/tcp-session';
import { MAX_CLIENT_HELLO, parseClientHello } from './client-hello';

/** nginx's preread_timeout default (spec 1): a client that sends no ClientHello within it is closed. */
export const DEFAULT_PREREAD_TIMEOUT_MS = 30_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;
/** Records add 5 bytes per at most 16 KiB of handshake. */
export const TLS_PREREAD_MAX = MAX_CLIENT_HELLO + 5 * Math.ceil(MAX_CLIENT_HELLO / 16384);

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
  /** Counts failures by reason when the metrics export runs; null: nothing is counted. */
  metrics: FlowMetrics | null;
  /** Continue with the next phases (match, filters, connect, pipe). */
  proceed(s: TcpSession): void;
  /** The connection ends here: close it and write its access record (`end` is the record's reason). */
  reject(s: TcpSession, end: EndReason, error: string): void;
}

const PREREAD_FAILURE: Record<Exclude<PrereadState, 'data'>, [EndReason, string]> = {
  timeout: ['preread_timeout', 'no ClientHello before the preread timeout'],
  eof: ['client_closed', 'client closed before sending a ClientHello'],
  full: ['not_tls', 'ClientHello too large'],
  error: ['client_error', 'socket error before the ClientHello'],
};

/**
 * Start the TLS flow for a connection accepted on a TLS listener. Runs once per such connection;
 * allocates a closure and the parse of one ClientHello, which is small beside a handshake.
 */
export function acceptTls(opts: TlsFlowOptions, mode: TlsMode, s: TcpSession): void {
  opts.plane.preread(s.client, TLS_PREREAD_MAX, opts.prereadTimeoutMs, tlsPreread(opts, mode, s));
}

/**
 * The ClientHello step as a preread callback, so a PROXY header step can run first in the same preread
 * (prelude/proxy-accept.ts hands it the bytes after the header).
 */
export function tlsPreread(opts: TlsFlowOptions, mode: TlsMode, s: TcpSession): PrereadCallback {
  return (bytes, state) => {
    if (state !== 'data') {
      const [end, why] = PREREAD_FAILURE[state];
      if (opts.metrics !== null && (end === 'not_tls' || end === 'preread_timeout')) opts.metrics.tlsFailed(end, s.serverAddr, s.serverPort);
      opts.reject(s, end, why);
      return true;
    }
    const hello = parseClientHello(bytes);
    if (hello.kind === 'need-more') return false;
    if (hello.kind === 'not-tls') {
      if (opts.metrics !== null) opts.metrics.tlsFailed('not_tls', s.serverAddr, s.serverPort);
      opts.reject(s, 'not_tls', hello.reason);
      return true;
    }
    const sent = hello.sni === null ? null : normalizeSni(hello.sni);
    s.sni = sent ?? opts.fallbackSni;
    const snap = opts.snapshot();
    let passthrough = mode === 'passthrough';
    if (mode === 'mixed') {
      // the route decides; the flow's match phase keeps this choice instead of matching again
      s.matched = selectRoute(snap, s) ?? null;
      passthrough = s.matched?.tlsPassthrough === true;
    }
    if (passthrough) {
      s.tls = 'passthrough';
      opts.proceed(s);
    } else {
      terminate(opts, snap, s);
    }
    return true;
  };
}

/** Pick the certificate by SNI and run the handshake; route selection follows it (spec 4.1). */
function terminate(opts: TlsFlowOptions, snap: Snapshot, s: TcpSession): void {
  const sni = s.sni;
  if (sni === null) return fail(opts, s, 'no_sni', 'failed to find SNI');
  const ssl = findCertificate(snap.certificates, sni);
  if (ssl === null) return fail(opts, s, 'unknown_sni', `failed to match any SSL certificate by SNI: ${sni}`);
  opts.plane.startTls(s.client, { certificate: ssl.certificate, timeoutMs: opts.handshakeTimeoutMs }, (err) => {
    if (err !== null) return fail(opts, s, err.kind, `${err.kind}: ${err.message}`, ssl.id);
    s.tls = 'terminated';
    opts.proceed(s);
  });
}

/** `kind` groups failures for the rate limit (no_sni, unknown_sni, timeout, client_cert, handshake). */
function fail(opts: TlsFlowOptions, s: TcpSession, kind: string, why: string, ssl?: string): void {
  if (opts.metrics !== null) opts.metrics.tlsFailed(kind, s.serverAddr, s.serverPort);
  opts.handshakeWarnings.warn(kind, 'TLS handshake failed', {
    client: `${s.remoteAddr}:${s.remotePort}`,
    sni: s.sni ?? undefined,
    ssl,
    reason: why,
  });
  opts.reject(s, 'tls_handshake_failed', why);
}
