// The Admin API is never left open by accident: with no usable admin_key, weir makes one and says where it is.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdminKey, Config } from '../config/types';
import { logger } from '../log/logger';

export const GENERATED_KEY_FILE = 'admin_key';

/**
 * The admin keys in force. Configured keys win. With none configured (and admin_key_required not false),
 * a random key is read from, or created in, `<dataDir>/admin_key` (mode 0600) and its location logged:
 * the key survives restarts and never appears in the log itself.
 */
export function ensureAdminKey(config: Config, dataDir: string): AdminKey[] {
  if (config.admin.keys.length > 0 || !config.admin.keyRequired || !config.enableAdmin) return [...config.admin.keys];
  const file = join(dataDir, GENERATED_KEY_FILE);
  let key = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  if (!/^[A-Za-z0-9]{16,}$/.test(key)) {
    key = randomBytes(16).toString('hex');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, key + '\n', { mode: 0o600 });
    logger.warn('no deployment.admin.admin_key configured: generated an admin key', { file });
  } else {
    logger.info('no deployment.admin.admin_key configured: using the generated admin key', { file });
  }
  return [{ name: 'generated', key, role: 'admin' }];
}
