// Which stored fields are private keys, and their encryption on write / decryption on read.
// ssl `key` and `keys[]`, upstream `tls.client_key` (also in a stream route's or a service's inline upstream).

import { type JsonObject, isPlainObject as isObject } from '../lib/json';
import type { Resource } from './types';
import { type Keyring, decryptSecret, encryptSecret, isEncrypted } from './keyring';

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
 * as given. Already encrypted fields (never produced by validation, but possible in an import) stay.
 */
export function sealSecrets(ring: Keyring | null, res: Resource, id: string, value: JsonObject): JsonObject {
  if (ring === null) return value;
  return mapSecrets(res, id, value, (v) => (isEncrypted(v) ? v : encryptSecret(ring, v)));
}

/** Decrypt the private keys of a stored object. Throws KeyringError when the keyring cannot. */
export function openSecrets(ring: Keyring | null, res: Resource, id: string, value: JsonObject): JsonObject {
  return mapSecrets(res, id, value, (v, what) => (isEncrypted(v) ? decryptSecret(ring, v, what) : v));
}
