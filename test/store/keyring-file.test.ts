// The keyring in force at start: configured keys, the generated file, and keys in clear on request.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TlsSettings } from '../../src/config/types';
import { ensureKeyring } from '../../src/store/keyring-file';
import { createKeyring, decryptSecret, encryptSecret } from '../../src/store/keyring';
import { tempDir } from '../helpers/weir';

const A = 'edd1c9f0985e76a1';
const tls = (keyring: string[] | null, encryptionEnabled = true): TlsSettings => ({ fallbackSni: null, keyring, encryptionEnabled });

describe('ensureKeyring', () => {
  const root = tempDir();
  after(() => root.remove());
  let n = 0;
  const fresh = (): string => {
    const dir = join(root.path, `d${n++}`);
    mkdirSync(dir);
    return dir;
  };

  it('the config says nothing: a key is generated once into <dir>/keyring and reused', () => {
    const dir = fresh();
    const first = ensureKeyring(tls(null), dir)!;
    assert.ok(existsSync(join(dir, 'keyring')));
    const sealed = encryptSecret(first, 'k');
    assert.equal(decryptSecret(ensureKeyring(undefined, dir), sealed, 'k'), 'k');
    assert.notEqual(first.seals, false);
  });

  it('a configured keyring seals with its first entry; a generated key left from before still opens old values', () => {
    const dir = fresh();
    const before = encryptSecret(ensureKeyring(tls(null), dir)!, 'old');
    const ring = ensureKeyring(tls([A]), dir)!;
    assert.equal(ring.keys[0]!.id, createKeyring([A]).keys[0]!.id);
    assert.equal(decryptSecret(ring, before, 'k'), 'old');
  });

  it('keys in clear on request (keyring: null, enable_encrypt_fields: false): nothing generated, nothing sealed', () => {
    const dir = fresh();
    assert.equal(ensureKeyring(tls(null, false), dir), null);
    assert.equal(existsSync(join(dir, 'keyring')), false);
    const ring = ensureKeyring(tls([A], false), dir)!;
    assert.equal(ring.seals, false);
    assert.equal(decryptSecret(ring, encryptSecret(createKeyring([A]), 's'), 'k'), 's', 'what was sealed before still opens');
  });
});
