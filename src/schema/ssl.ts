// SSL object schema (spec 3.3): shape and lengths, then PEM checks (each pair parses and matches, the CA parses).
// A cert or key is PEM text (length-limited) or a `$secret://` / `$env://` reference resolved at load time.

import * as v from 'valibot';
import {
  type AnySchema, arrayOf, charLength, commonEntries, hostSchema, intRange, looseObj, oneOf, opt, runSchema, str,
  strictObj,
} from './common';
import { checkCaBundle, checkPemPair } from './pem';

const SECRET_REF = /^\$(secret|env):\/\//;

/** PEM text of min..max characters, or a secret reference (which is short and exempt from the length rule). */
function pemOrRef(min: number, max: number): AnySchema {
  const why = (s: string): string | null => {
    if (SECRET_REF.test(s)) return null;
    const n = charLength(s);
    if (n < min) return `string too short, expected at least ${min}, got ${n}`;
    if (n > max) return `string too long, expected at most ${max}, got ${n}`;
    return null;
  };
  return v.pipe(str(), v.check((s) => why(s) === null, (i) => why(i.input as string) ?? ''));
}

const certSchema = (): AnySchema => pemOrRef(128, 65536);
const keySchema = (): AnySchema => pemOrRef(64, 65536);

export const TLS_PROTOCOLS: readonly string[] = ['TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

const protocolsSchema = v.pipe(
  arrayOf(oneOf(TLS_PROTOCOLS)),
  v.check((a) => (a as unknown[]).length <= 3, 'expect array to have at most 3 items'),
  v.check((a) => duplicateAt(a as unknown[]) === null, (i) => {
    const [first, second] = duplicateAt(i.input as unknown[]) ?? [0, 0];
    return `expected unique items but items ${first + 1} and ${second + 1} are equal`;
  }),
);

function duplicateAt(items: readonly unknown[]): [number, number] | null {
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) if (items[i] === items[j]) return [i, j];
  }
  return null;
}

const clientSchema = looseObj({
  ca: certSchema(),
  depth: opt(intRange(0)),
  skip_mtls_uri_regex: opt(arrayOf(str(), 1)),
});

export const sslSchema: AnySchema = strictObj({
  ...commonEntries(),
  type: opt(oneOf(['server', 'client'])),
  cert: opt(certSchema()),
  key: opt(keySchema()),
  certs: opt(arrayOf(certSchema())),
  keys: opt(arrayOf(keySchema())),
  sni: opt(hostSchema()),
  snis: opt(arrayOf(hostSchema(), 1)),
  client: opt(clientSchema),
  status: opt(oneOf([1, 0])),
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

/** Full SSL validation; null when valid. */
export function checkSsl(body: unknown): string | null {
  const shapeError = runSchema(sslSchema, body);
  if (shapeError) return shapeError;
  const ssl = body as Record<string, unknown>;
  const required = checkRequired(ssl);
  if (required) return required;
  const certs = Array.isArray(ssl.certs) ? ssl.certs.length : 0;
  const keys = Array.isArray(ssl.keys) ? ssl.keys.length : 0;
  if (certs !== keys) return 'mismatched number of certs and keys';
  return checkPem(ssl);
}

/** Every pair parses and matches; client.ca parses. Runs after the shape check, so the fields are strings. */
function checkPem(ssl: Record<string, unknown>): string | null {
  const pairError = checkPemPair(ssl.cert as string, ssl.key as string, 'cert', 'key');
  if (pairError) return pairError;
  const certs = (ssl.certs ?? []) as string[];
  const keys = (ssl.keys ?? []) as string[];
  for (let i = 0; i < certs.length; i++) {
    const e = checkPemPair(certs[i]!, keys[i]!, `certs[${i}]`, `keys[${i}]`);
    if (e) return e;
  }
  const client = ssl.client as Record<string, unknown> | undefined;
  if (client !== undefined) return checkCaBundle(client.ca as string, 'client.ca');
  return null;
}
