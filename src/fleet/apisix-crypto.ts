// APISIX's at-rest format for private keys in etcd: AES-CBC with a keyring entry as both key and IV
// (16 bytes -> AES-128, 32 -> AES-256), PKCS#7 padding, base64 text. A value starting with "---" is plain
// PEM; decryption tries each keyring entry in turn (apisix/core/data_encryption.lua, apisix/ssl.lua).
// Not weir's own at-rest format (src/store/keyring.ts): this one only crosses the etcd boundary.

import { createCipheriv, createDecipheriv } from 'node:crypto';
import { isSecretRef } from '../lib/secret-ref';

/** APISIX's default apisix.data_encryption.keyring (apisix/cli/config.lua), used when weir's config has none. */
export const APISIX_DEFAULT_KEYRING: readonly string[] = ['qeddd145sfvddff3', 'edd1c9f0985e76a2'];

function cipherOf(entry: string): string | null {
  const n = Buffer.byteLength(entry, 'utf8');
  return n === 16 ? 'aes-128-cbc' : n === 32 ? 'aes-256-cbc' : null;
}

/** Plain PEM or a $secret:// / $env:// reference: stored as is, never encrypted. */
export function isPlainKey(value: string): boolean {
  return value.startsWith('---') || isSecretRef(value);
}

/** Encrypt with the first usable entry (APISIX writes with keyring[0]); no usable entry: stored in clear. */
export function encryptApisixKey(plain: string, keyring: readonly string[]): string {
  const entry = keyring.find((k) => cipherOf(k) !== null);
  if (entry === undefined || !plain.startsWith('---')) return plain; // references and sealed values stay
  const key = Buffer.from(entry, 'utf8');
  const cipher = createCipheriv(cipherOf(entry)!, key, key.subarray(0, 16));
  return Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]).toString('base64');
}

/** Decrypt a value APISIX encrypted; plain PEM and references come back unchanged. Throws when no entry opens it. */
export function decryptApisixKey(value: string, keyring: readonly string[]): string {
  if (isPlainKey(value)) return value;
  const body = Buffer.from(value, 'base64');
  for (const entry of keyring) {
    const algo = cipherOf(entry);
    if (algo === null) continue;
    const key = Buffer.from(entry, 'utf8');
    try {
      const decipher = createDecipheriv(algo, key, key.subarray(0, 16));
      const plain = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      if (plain.startsWith('---')) return plain;
    } catch {
      // bad padding: not this entry
    }
  }
  throw new Error('private key is neither PEM nor encrypted with any apisix.data_encryption.keyring entry');
}
