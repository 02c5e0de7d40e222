// SSL object schema (spec 3.3): shape and lengths, then PEM checks (each pair parses and matches, the CA parses).
// A cert or key is PEM text (length-limited) or a `$secret://` / `$env://` reference resolved at load time.

import {
  type AnySchema, arrayOf, commonEntries, hostSchema, intEnum, intRange, looseObj, oneOf, opt, pemOrRef, runSchema, str,
  strEnum, strictObj,
} from './common';
import { checkCertificate, checkPemPair } from './pem';

const certSchema = (): AnySchema => pemOrRef(128, 65536);
const keySchema = (): AnySchema => pemOrRef(64, 65536);

export const TLS_PROTOCOLS: readonly string[] = ['TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

const protocolsSchema = arrayOf(oneOf(TLS_PROTOCOLS), { max: 3, unique: true });

const clientSchema = looseObj({
  ca: certSchema(),
  depth: opt(intRange(0)),
  skip_mtls_uri_regex: opt(arrayOf(str(), { min: 1, unique: true })),
});

export const sslSchema: AnySchema = strictObj({
  ...commonEntries(),
  type: opt(strEnum(['server', 'client'])),
  cert: opt(certSchema()),
  key: opt(keySchema()),
  certs: opt(arrayOf(certSchema())),
  keys: opt(arrayOf(keySchema())),
  sni: opt(hostSchema()),
  snis: opt(arrayOf(hostSchema(), 1)),
  client: opt(clientSchema),
  status: opt(intEnum([1, 0])),
  ssl_protocols: opt(protocolsSchema),
});

/**
 * APISIX's if/then/else: a server SSL (the default type) needs cert, key and exactly one of sni/snis;
 * a client SSL needs cert and key. The messages are jsonschema's, unchanged.
 */
function checkRequired(ssl: Record<string, unknown>): string | null {
  const has = (k: string) => ssl[k] !== undefined;
  const pair = has('cert') && has('key');
  if ((ssl.type ?? 'server') === 'server') {
    return pair && has('sni') !== has('snis') ? null : 'invalid configuration: then clause did not match';
  }
  return pair ? null : 'invalid configuration: else clause did not match';
}

/**
 * Full SSL validation; null when valid. After the shape, the order of APISIX's check_ssl_conf: the main
 * pair, then (server SSLs only) the certs/keys count, each extra pair, and client.ca.
 */
export function checkSsl(body: unknown): string | null {
  const shapeError = runSchema(sslSchema, body);
  if (shapeError) return shapeError;
  const ssl = body as Record<string, unknown>;
  const required = checkRequired(ssl);
  if (required) return required;
  const pairError = checkPemPair(ssl.cert as string, ssl.key as string);
  if (pairError) return pairError;
  if (ssl.type === 'client') return null;
  const certs = (ssl.certs ?? []) as string[];
  const keys = (ssl.keys ?? []) as string[];
  if (certs.length !== keys.length) return 'mismatched number of certs and keys';
  for (let i = 0; i < certs.length; i++) {
    const e = checkPemPair(certs[i]!, keys[i]!);
    if (e) return `failed to handle cert-key pair[${i + 1}]: ${e}`;
  }
  const client = ssl.client as Record<string, unknown> | undefined;
  if (client === undefined) return null;
  const caError = checkCertificate(client.ca as string);
  return caError === null ? null : `failed to validate client_cert: ${caError}`;
}
