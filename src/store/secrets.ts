// Which stored fields are private keys, and their encryption on write / decryption on read.
// ssl `key` and `keys[]`, upstream `tls.client_key` (also in a stream route's or a service's inline upstream).

import { type JsonObject, isPlainObject as isObject } from '../lib/json';
import type { Resource } from './types';
import { type Keyring, KeyringError, decryptSecret, encryptSecret, isEncrypted } from './keyring';
import { isSecretRef } from '../lib/secret-ref';

type Transform = (value: string, what: string) => string;

function mapUpstreamKey(up: unknown, where: string, fn: Transform): unknown {
  if (!isObject(up) || !isObject(up.tls) || typeof up.tls.client_key !== 'string') return up;
  return { ...up, tls: { ...up.tls, client_key: fn(up.tls.client_key, `${where}tls.client_key`) } };
}

/** A copy of `value` with every private-key field passed through fn; the same object when there is none. */
function mapSecrets(res: Resource, id: string, value: JsonObject, fn: Transform): JsonObject {
  const name = `${res}/${id}`;
  if (res === 'ssls') {
    const hasKey = typeof value.key === 'string';
    const hasKeys = Array.isArray(value.keys);
    if (!hasKey && !hasKeys) return value;
    const out = { ...value };
    if (hasKey) out.key = fn(value.key as string, `${name} key`);
    if (hasKeys) {
      out.keys = (value.keys as unknown[]).map((k, i) => (typeof k === 'string' ? fn(k, `${name} keys[${i}]`) : k));
    }
    return out;
  }
  if (res === 'upstreams') return mapUpstreamKey(value, `${name} `, fn) as JsonObject;
  if (isObject(value.upstream)) {
    const up = mapUpstreamKey(value.upstream, `${name} upstream.`, fn);
    return up === value.upstream ? value : { ...value, upstream: up };
  }
  return value;
}

/**
 * Encrypt the private keys of an object about to be stored. Without a keyring the value is stored
 * as given. Already encrypted fields (never produced by validation, but possible in an import) stay,
 * and so do `$secret://` / `$env://` references: they name a key, they are none (APISIX stores them as sent).
 */
export function sealSecrets(ring: Keyring | null, res: Resource, id: string, value: JsonObject): JsonObject {
  if (ring === null || ring.seals === false) return value;
  return mapSecrets(res, id, value, (v) => (isEncrypted(v) || isSecretRef(v) ? v : encryptSecret(ring, v)));
}

/**
 * Decrypt the private keys of a stored object. A field the keyring cannot open stays sealed: the object
 * is still listed and shown (without its key), and only what needs the key fails, naming it (the
 * snapshot build refuses to serve that certificate; a write must bring a new key). One undecryptable
 * certificate must not take every route down, as in APISIX.
 */
export function openSecrets(ring: Keyring | null, res: Resource, id: string, value: JsonObject): JsonObject {
  return mapSecrets(res, id, value, (v, what) => {
    if (!isEncrypted(v)) return v;
    try {
      return decryptSecret(ring, v, what);
    } catch (err) {
      if (err instanceof KeyringError) return v;
      throw err;
    }
  });
}

/**
 * Throw a KeyringError naming the first private key of `value` the keyring cannot open. The CLI runs it on a
 * sample of rows before it writes: a command with the wrong keyring must not seal new keys nobody can open.
 */
export function checkSecrets(ring: Keyring | null, res: Resource, id: string, value: JsonObject): void {
  mapSecrets(res, id, value, (v, what) => (isEncrypted(v) ? decryptSecret(ring, v, what) : v));
}
