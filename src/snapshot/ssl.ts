// SSL rows -> compiled certificates, the per-snapshot certificate table (by SNI), and upstream TLS
// settings. Pure apart from reading `$env://` references; runs at snapshot build, never per connection.

import type { PemPair, TlsCertificate, TlsClientConfig } from '../runtime/types';
import type { JsonObject } from '../lib/json';
import type { CachedSsl, CachedUpstream, CompiledSsl, Snapshot } from './types';
import { KeyringError, isEncrypted, sealedKeyId } from '../store/keyring';
import { type SniTable, addSni, createSniTable, findSni, normalizeSni } from '../proxy/match/sni';
import { SEALED_KEY_ERROR, checkCertificate, checkPemPair } from '../schema/pem';
import { resolveSecretRef } from '../lib/secret-ref';

export type Env = Record<string, string | undefined>;

/** Compiled SSL objects by id, as far as upstream TLS needs them (a snapshot's map, or a build's view of it). */
export type SslLookup = Pick<ReadonlyMap<string, CachedSsl>, 'get'>;

/**
 * Resolve a PEM field (it may be an `$env://` reference) or throw a message naming it. A key the store
 * could not open is still sealed: that is a KeyringError, logged loudly and counted (keyringFailures).
 */
function pem(value: unknown, field: string, env: Env): string {
  if (typeof value !== 'string') throw new Error(`${field} is missing`);
  if (isEncrypted(value)) {
    throw new KeyringError(
      `${field} cannot be decrypted: it was sealed with key id ${sealedKeyId(value)}, which apisix.data_encryption.keyring ` +
        'does not hold (restore that keyring entry, or write the object again with its key)',
    );
  }
  const resolved = resolveSecretRef(value, env);
  if (resolved === null) throw new Error(`${field}: cannot resolve ${value}`);
  return resolved;
}

function pairs(value: JsonObject, env: Env): PemPair[] {
  const out: PemPair[] = [{ cert: pem(value.cert, 'cert', env), key: pem(value.key, 'key', env) }];
  const certs = Array.isArray(value.certs) ? value.certs : [];
  const keys = Array.isArray(value.keys) ? value.keys : [];
  if (certs.length !== keys.length) throw new Error('mismatched number of certs and keys');
  for (let i = 0; i < certs.length; i++) {
    out.push({ cert: pem(certs[i], `certs[${i}]`, env), key: pem(keys[i], `keys[${i}]`, env) });
  }
  // References were not checked at write time; check what they resolved to.
  out.forEach((p, i) => {
    const problem = checkPemPair(p.cert, p.key);
    if (problem !== null) throw new Error(i === 0 ? problem : `failed to handle cert-key pair[${i}]: ${problem}`);
  });
  return out;
}

/** Compile one (schema-valid) SSL object. Throws an Error whose message names the problem. */
export function compileSsl(id: string, value: JsonObject, env: Env = process.env): CompiledSsl {
  const type = value.type === 'client' ? 'client' : 'server';
  const patterns = typeof value.sni === 'string' ? [value.sni] : Array.isArray(value.snis) ? value.snis : [];
  const client = (value.client ?? null) as JsonObject | null;
  let clientCa: string | null = null;
  if (client !== null) {
    clientCa = pem(client.ca, 'client.ca', env);
    const problem = checkCertificate(clientCa);
    if (problem !== null) throw new Error(`failed to validate client_cert: ${problem}`);
  }
  const certificate: TlsCertificate = {
    pairs: pairs(value, env),
    clientCa,
    clientDepth: client !== null && typeof client.depth === 'number' ? client.depth : 1,
    protocols: Array.isArray(value.ssl_protocols) ? (value.ssl_protocols as string[]) : [],
  };
  return { id, type, snis: patterns.map((p) => normalizeSni(String(p))), certificate };
}

/** Compile an SSL row, or reuse the previous build's result for the same row text. */
export function cachedSsl(id: string, raw: string, value: JsonObject, prev: ReadonlyMap<string, CachedSsl> | null): CachedSsl {
  const old = prev?.get(id);
  if (old !== undefined && old.source === raw) return old;
  const enabled = value.status !== 0;
  try {
    return { source: raw, ssl: compileSsl(id, value), problem: null, enabled };
  } catch (err) {
    if (!(err instanceof KeyringError)) return { source: raw, ssl: null, problem: (err as Error).message, enabled };
    // APISIX serves everything else and fails only this certificate's handshakes ("decrypt ssl key failed")
    const snis = typeof value.sni === 'string' ? [value.sni] : Array.isArray(value.snis) ? value.snis : [];
    const served = snis.length > 0 ? `; not serving ${snis.join(', ')}` : '';
    return { source: raw, ssl: null, problem: `${err.message}${served}`, keyringFailure: true, enabled };
  }
}

/**
 * The SSL objects whose private key the keyring cannot open ("ssls/1"), in id order: the value of the
 * key-decryption failure metric (a gauge: how many certificates are out of service for that reason).
 * One pass over the snapshot's SSLs; call it per scrape, never per connection.
 */
export function keyringFailures(snap: Snapshot): string[] {
  const out: string[] = [];
  for (const [id, entry] of snap.ssls) if (entry.keyringFailure) out.push(`ssls/${id}`);
  return out;
}

/**
 * A build problem about a private key the keyring cannot open: an SSL (ERR_KEYRING) or an upstream
 * client key (APISIX's "failed to decrypt previous encrypted key"). Start-up logs these as errors.
 */
export function isKeyringProblem(problem: string): boolean {
  return problem.includes('ERR_KEYRING') || problem.endsWith(SEALED_KEY_ERROR);
}

/**
 * The certificate table of a snapshot: enabled server objects under each of their SNIs, in id order.
 * A certificate wildcard covers exactly one label (spec 6), unlike a route's.
 */
export function buildCertificateTable(ssls: Iterable<CachedSsl>): SniTable<CompiledSsl> {
  const table = createSniTable<CompiledSsl>(false);
  for (const { ssl, enabled } of ssls) {
    if (ssl === null || ssl.type !== 'server' || !enabled) continue;
    for (const pattern of ssl.snis) addSni(table, pattern, ssl);
  }
  return table;
}

const acceptAny = (): boolean => true;

/** The certificate for a client's SNI (any case, trailing dot allowed); null when none matches. Once per handshake. */
export function findCertificate(table: SniTable<CompiledSsl>, sni: string): CompiledSsl | null {
  return findSni(table, normalizeSni(sni), acceptAny, null) ?? null;
}

/**
 * Upstream `tls` (scheme "tls" only): verify flag, the client cert/key inline or from the `type: client`
 * SSL object named by client_cert_id. `trustedCa` (apisix.ssl.ssl_trusted_certificate) is what `verify`
 * checks against; null = the runtime's roots. Throws a message naming the problem.
 */
export function compileUpstreamTls(
  tls: unknown,
  ssls: SslLookup,
  env: Env = process.env,
  trustedCa: string | null = null,
): TlsClientConfig {
  const t = (tls ?? {}) as JsonObject;
  let cert: string | null = null;
  let key: string | null = null;
  if (t.client_cert_id !== undefined) {
    const entry = ssls.get(String(t.client_cert_id));
    if (entry === undefined) throw new Error(`tls.client_cert_id: ssl ${String(t.client_cert_id)} not found`);
    if (entry.ssl === null) throw new Error(`tls.client_cert_id: ssl ${String(t.client_cert_id)} is invalid: ${entry.problem}`);
    cert = entry.ssl.certificate.pairs[0]!.cert;
    key = entry.ssl.certificate.pairs[0]!.key;
  } else if (typeof t.client_cert === 'string' && typeof t.client_key === 'string') {
    cert = pem(t.client_cert, 'tls.client_cert', env);
    key = pem(t.client_key, 'tls.client_key', env);
  }
  const verify = t.verify === true;
  // the CA only matters when verifying; leaving it out otherwise keeps the secure context small
  return { verify, ca: verify ? trustedCa : null, cert, key };
}

/** The id of the SSL object an upstream takes its client certificate from (scheme "tls" only), or null. */
export function clientCertIdOf(value: JsonObject): string | null {
  const certId = (value.tls as JsonObject | undefined)?.client_cert_id;
  return certId === undefined || value.scheme !== 'tls' ? null : String(certId);
}

/** The cache key of an upstream: its row text, plus the SSL row it takes a client cert from. */
export function upstreamSource(rowText: string, value: JsonObject, ssls: SslLookup): string {
  const certId = clientCertIdOf(value);
  if (certId === null) return rowText;
  return `${rowText}\n${ssls.get(certId)?.source ?? 'missing ssl'}`;
}

/** Give a freshly compiled `scheme: tls` upstream its TLS settings; a TLS problem makes it unusable. */
export function attachUpstreamTls(
  entry: CachedUpstream,
  value: JsonObject,
  ssls: SslLookup,
  trustedCa: string | null = null,
): CachedUpstream {
  const up = entry.upstream;
  if (up === null || up.scheme !== 'tls') return entry;
  try {
    up.tls = compileUpstreamTls(value.tls, ssls, process.env, trustedCa);
    return entry;
  } catch (err) {
    return { ...entry, upstream: null, problems: [(err as Error).message] };
  }
}
