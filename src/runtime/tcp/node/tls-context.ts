// node:tls pieces of the data plane: one tls.Server per certificate object (it owns the secure context
// and Node's own handshake and client-certificate checks), one client context per upstream TLS config.
// Both are cached by object identity, so a handshake never builds a context.

import tls from 'node:tls';
import type { TlsAcceptError, TlsCertificate, TlsClientConfig } from '../../types';

/** What the plane does when a handshake on one of these servers ends. Set once by tls.ts. */
export interface TlsServerHooks {
  secure(socket: tls.TLSSocket): void;
  failed(err: Error & { code?: string }, socket: tls.TLSSocket): void;
}

const servers = new WeakMap<TlsCertificate, tls.Server>();
const clientContexts = new WeakMap<TlsClientConfig, tls.SecureContext>();

const VERSIONS: readonly tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** min/max version from an ssl_protocols list (a gap inside the range is not expressible in node:tls). */
function versionRange(protocols: readonly string[]): { minVersion?: tls.SecureVersion; maxVersion?: tls.SecureVersion } {
  const idx = protocols.map((p) => VERSIONS.indexOf(p as tls.SecureVersion)).filter((i) => i >= 0);
  if (idx.length === 0) return {};
  return { minVersion: VERSIONS[Math.min(...idx)], maxVersion: VERSIONS[Math.max(...idx)] };
}

/**
 * The never-listening tls.Server for a certificate; connections are handed to it with
 * emit('connection'). Throws when node:tls rejects the PEM (the snapshot checked it already).
 */
export function serverFor(cert: TlsCertificate, hooks: TlsServerHooks): tls.Server {
  let server = servers.get(cert);
  if (server !== undefined) return server;
  const mtls = cert.clientCa !== null;
  server = tls.createServer({
    cert: cert.pairs.map((p) => p.cert),
    key: cert.pairs.map((p) => p.key),
    ...(mtls ? { ca: cert.clientCa!, requestCert: true, rejectUnauthorized: true } : {}),
    ...versionRange(cert.protocols),
    allowHalfOpen: true,
    // the plane runs its own handshake timer
    handshakeTimeout: 0,
  });
  server.on('secureConnection', hooks.secure);
  server.on('tlsClientError', hooks.failed);
  servers.set(cert, server);
  return server;
}

/** The client context for an upstream TLS config (client cert/key, CA for verification). */
export function clientContextFor(config: TlsClientConfig): tls.SecureContext {
  let ctx = clientContexts.get(config);
  if (ctx === undefined) {
    ctx = tls.createSecureContext({
      ...(config.ca !== null ? { ca: config.ca } : {}),
      ...(config.cert !== null && config.key !== null ? { cert: config.cert, key: config.key } : {}),
    });
    clientContexts.set(config, ctx);
  }
  return ctx;
}

/**
 * Length of the verified client chain minus one (0 = self-signed leaf). Node has no verify-depth
 * option, so client.depth is enforced here after the handshake.
 */
export function peerChainDepth(socket: tls.TLSSocket): number {
  let cert = socket.getPeerCertificate(true);
  let depth = 0;
  while (cert && cert.issuerCertificate && cert.issuerCertificate !== cert && depth < 32) {
    cert = cert.issuerCertificate;
    depth++;
  }
  return depth;
}

/** Classify a failed server handshake for logs and the access record. */
export function acceptError(err: Error & { code?: string }, socket: tls.TLSSocket | null): TlsAcceptError {
  const authError = (socket as { authorizationError?: string } | null)?.authorizationError;
  if (authError) return { kind: 'client_cert', message: `client certificate rejected: ${authError}` };
  const text = `${err.code ?? ''} ${err.message}`;
  if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/i.test(text)) {
    return { kind: 'client_cert', message: 'client certificate was not present' };
  }
  return { kind: 'handshake', message: err.message };
}
