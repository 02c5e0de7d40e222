// Encryption of private keys at rest (APISIX's apisix.data_encryption.keyring idea, stronger cipher).
// The first keyring entry encrypts; every entry decrypts, so a key can be rotated in without downtime.
//
// Format of an encrypted field: "$weir$enc1$<kid>$<base64(iv | ciphertext | tag)>", AES-256-GCM.
// <kid> is 8 hex chars derived from the keyring entry, so a value names the key it needs without
// revealing it, and "wrong keyring" can be told apart from "corrupted value".

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ENCRYPTED_PREFIX, sealedKeyId } from '../lib/sealed';

export { ENCRYPTED_PREFIX, isEncrypted, sealedKeyId } from '../lib/sealed';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** APISIX keyring entries are 16 characters (AES-128 keys); weir takes 16 or more. */
export const MIN_KEYRING_ENTRY = 16;

export interface KeyringKey {
  /** 8 hex chars, stored beside each value. */
  readonly id: string;
  readonly secret: Buffer;
}

export interface Keyring {
  /** keys[0] encrypts; all decrypt. Never empty. */
  readonly keys: readonly KeyringKey[];
  /** False: values are stored in clear (the user asked for it); sealed ones are still opened. Default true. */
  readonly seals?: boolean;
}

/** Why a stored value could not be decrypted. */
export class KeyringError extends Error {
  readonly code = 'ERR_KEYRING';
  constructor(message: string) {
    super(`ERR_KEYRING: ${message}`);
    this.name = 'KeyringError';
  }
}

/** Derive the AES key and key id from a keyring entry. Runs once per entry at start-up. */
function deriveKey(entry: string): KeyringKey {
  const secret = createHash('sha256').update('weir data encryption\0').update(entry, 'utf8').digest();
  const id = createHash('sha256').update('weir key id\0').update(secret).digest('hex').slice(0, 8);
  return { id, secret };
}

/** Build a keyring from config entries (already checked: non-empty, each >= 16 characters). */
export function createKeyring(entries: readonly string[]): Keyring {
  if (entries.length === 0) throw new KeyringError('the keyring is empty');
  return { keys: entries.map(deriveKey) };
}

/** Encrypt one secret with the first key. A fresh random IV each time. */
export function encryptSecret(ring: Keyring, plain: string): string {
  const key = ring.keys[0]!;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.secret, iv);
  const body = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${ENCRYPTED_PREFIX}${key.id}$${body.toString('base64')}`;
}

/**
 * Decrypt a value made by encryptSecret with whichever keyring entry made it. Throws KeyringError
 * naming the missing key id, or saying the value is damaged. `what` names the field for messages.
 */
export function decryptSecret(ring: Keyring | null, value: string, what: string): string {
  const rest = value.slice(ENCRYPTED_PREFIX.length);
  const sep = rest.indexOf('$');
  const kid = sealedKeyId(value);
  if (ring === null) {
    throw new KeyringError(`${what} is encrypted (key id ${kid}) but no apisix.data_encryption.keyring is configured`);
  }
  const key = ring.keys.find((k) => k.id === kid);
  if (key === undefined) {
    throw new KeyringError(
      `${what} was encrypted with key id ${kid}, which is not in apisix.data_encryption.keyring ` +
        `(configured ids: ${ring.keys.map((k) => k.id).join(', ')})`,
    );
  }
  const body = Buffer.from(rest.slice(sep + 1), 'base64');
  if (body.length < IV_BYTES + TAG_BYTES) throw new KeyringError(`${what}: encrypted value is damaged`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.secret, body.subarray(0, IV_BYTES));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new KeyringError(`${what}: encrypted value is damaged (authentication failed)`);
  }
}
