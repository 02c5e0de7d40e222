// With no admin_key configured, weir never runs an open Admin API: it generates a key, keeps it, and says where.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/parse';
import { ensureAdminKey, GENERATED_KEY_FILE } from '../../src/cli/admin-key';
import { configureErrorLog } from '../../src/log/logger';
import { tempDir } from '../helpers/weir';

const NO_KEYS = 'deployment:\n  admin:\n    admin_listen:\n      ip: 0.0.0.0\n      port: 9180\n';

describe('ensureAdminKey', () => {
  const dir = tempDir();
  const lines: string[] = [];
  configureErrorLog({ sink: (t) => lines.push(t) });
  after(() => {
    configureErrorLog({ sink: (t) => process.stderr.write(t) });
    dir.remove();
  });

  it('generates a random key on first start, stores it 0600 and logs the file, not the key', () => {
    const { config } = parseConfig(NO_KEYS, 'test');
    assert.equal(config.admin.keys.length, 0);
    const keys = ensureAdminKey(config, dir.path);
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.role, 'admin');
    assert.match(keys[0]!.key, /^[0-9a-f]{32}$/);
    const file = join(dir.path, GENERATED_KEY_FILE);
    assert.equal(readFileSync(file, 'utf8').trim(), keys[0]!.key);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const log = lines.join('');
    assert.match(log, /generated an admin key/);
    assert.ok(log.includes(file));
    assert.ok(!log.includes(keys[0]!.key), 'the key itself is never logged');
  });

  it('reuses the stored key on the next start', () => {
    const { config } = parseConfig(NO_KEYS, 'test');
    const first = readFileSync(join(dir.path, GENERATED_KEY_FILE), 'utf8').trim();
    assert.equal(ensureAdminKey(config, dir.path)[0]!.key, first);
  });

  it('uses configured keys as they are and writes nothing', () => {
    const other = tempDir();
    try {
      const { config } = parseConfig(
        'deployment:\n  admin:\n    admin_key:\n      - {name: v, key: viewerkey123, role: viewer}\n',
        'test',
      );
      assert.deepEqual(ensureAdminKey(config, other.path), [{ name: 'v', key: 'viewerkey123', role: 'viewer' }]);
      assert.equal(existsSync(join(other.path, GENERATED_KEY_FILE)), false);
    } finally {
      other.remove();
    }
  });

  it('honours admin_key_required: false on loopback (no key at all)', () => {
    const { config } = parseConfig('deployment:\n  admin:\n    admin_key_required: false\n', 'test');
    assert.deepEqual(ensureAdminKey(config, dir.path), []);
  });
});
