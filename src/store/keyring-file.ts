// The keyring in force at start: the configured apisix.data_encryption.keyring, or else one generated
// once into a file next to the database, so private keys are never stored in clear by default.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TlsSettings } from '../config/types';
import { logger } from '../log/logger';
import { type Keyring, MIN_KEYRING_ENTRY, createKeyring } from './keyring';

export const GENERATED_KEYRING_FILE = 'keyring';

/**
 * Configured keys win. With none (and enable_encrypt_fields not false) a random key is read from, or
 * created in, `<dataDir>/keyring` (mode 0600). A copy of the database file alone then reveals no key;
 * keep the keyring file (or configure the keyring) when moving the database.
 * Returns null only when encryption is switched off. Runs once at start.
 */
export function ensureKeyring(tls: TlsSettings | undefined, dataDir: string): Keyring | null {
  if (tls !== undefined && !tls.encryptionEnabled) return null;
  if (tls?.keyring) return createKeyring(tls.keyring);
  const file = join(dataDir, GENERATED_KEYRING_FILE);
  const stored = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  if (stored.length >= MIN_KEYRING_ENTRY) return createKeyring([stored]);
  const secret = randomBytes(24).toString('base64url');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  logger.warn('no apisix.data_encryption.keyring configured: generated one for private keys at rest', { file });
  return createKeyring([secret]);
}
