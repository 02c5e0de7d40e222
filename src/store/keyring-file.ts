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
 * Configured keys win; with none, a random key is read from, or created in, `<dataDir>/keyring` (mode
 * 0600), so a copy of the database file alone reveals no key (keep the keyring file, or configure the
 * keyring, when moving the database). A generated key that exists is also kept for decrypting, so values
 * sealed before a keyring was configured still open. When the user asked for keys in clear
 * (enable_encrypt_fields: false or keyring: null), new keys are stored in clear and the keys at hand only
 * open what was sealed before; null when there are none. Runs once at start (and per CLI command).
 */
export function ensureKeyring(tls: TlsSettings | undefined, dataDir: string): Keyring | null {
  const file = join(dataDir, GENERATED_KEYRING_FILE);
  const stored = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  const generated = stored.length >= MIN_KEYRING_ENTRY ? [stored] : [];
  const configured = tls?.keyring ?? [];
  const withGenerated = [...configured, ...generated.filter((g) => !configured.includes(g))];
  if (tls !== undefined && !tls.encryptionEnabled) {
    return withGenerated.length > 0 ? { ...createKeyring(withGenerated), seals: false } : null;
  }
  if (withGenerated.length > 0) return createKeyring(withGenerated);
  const secret = randomBytes(24).toString('base64url');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  logger.warn('no apisix.data_encryption.keyring configured: generated one for private keys at rest', { file });
  return createKeyring([secret]);
}
