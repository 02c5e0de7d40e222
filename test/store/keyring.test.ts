// Keyring: encryption at rest, rotation (first encrypts, all decrypt), and the clear error without the key.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKeyring, decryptSecret, encryptSecret, KeyringError } from '../../src/store/keyring';
import { openStore } from '../../src/store/store';
import { putObject } from '../../src/objects/index';
import { tempDir } from '../helpers/weir';
import { pem, pemBodyLine } from '../tls/fixtures';

const OLD = 'qeddd145sfvddff3';
const NEW = 'edd1c9f0985e76a2';

describe('keyring', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('round-trips, with a fresh IV per value', () => {
    const ring = createKeyring([NEW]);
    const a = encryptSecret(ring, pem.a.key);
    const b = encryptSecret(ring, pem.a.key);
    assert.notEqual(a, b);
    assert.match(a, /^\$weir\$enc1\$[0-9a-f]{8}\$/);
    assert.equal(decryptSecret(ring, a, 'key'), pem.a.key);
  });

  it('rotation: values made with the old key still decrypt when it is second', () => {
    const old = encryptSecret(createKeyring([OLD]), 'secret');
    assert.equal(decryptSecret(createKeyring([NEW, OLD]), old, 'key'), 'secret');
    assert.throws(() => decryptSecret(createKeyring([NEW]), old, 'ssls/1 key'), /ssls\/1 key was encrypted with key id [0-9a-f]{8}, which is not in apisix.data_encryption.keyring/);
  });

  it('a damaged value is told apart from a missing key', () => {
    const ring = createKeyring([NEW]);
    const v = encryptSecret(ring, 'secret');
    const damaged = v.slice(0, -6) + (v.endsWith('AAAA') ? 'BBBB' : 'AAAA') + v.slice(-2);
    assert.throws(() => decryptSecret(ring, damaged, 'k'), /damaged/);
  });

  it('a store opened with the wrong keyring refuses with a message naming the field; the file holds no key', () => {
    const path = join(dir.path, 'w.db');
    const store = openStore(path, { keyring: createKeyring([OLD]) });
    putObject({ store }, 'ssls', '1', { ...pem.a, sni: 'a.test.com' });
    putObject({ store }, 'upstreams', 'u', { nodes: { '127.0.0.1:1': 1 }, scheme: 'tls', tls: { client_cert: pem.client.cert, client_key: pem.client.key } });
    assert.equal(store.get('ssls', '1')!.value.key, pem.a.key);
    store.close();
    // closed cleanly: the WAL is checkpointed into the main file
    const file = readFileSync(path, 'latin1') + (existsSync(path + '-wal') ? readFileSync(path + '-wal', 'latin1') : '');
    assert.ok(file.includes(pemBodyLine(pem.a.cert)), 'the certificate is in the file');
    assert.equal(file.includes(pemBodyLine(pem.a.key)), false);
    assert.equal(file.includes(pemBodyLine(pem.client.key)), false);
    assert.throws(() => openStore(path, { keyring: createKeyring([NEW]) }), (err: Error) => {
      assert.ok(err instanceof KeyringError);
      assert.match(err.message, /^ERR_KEYRING: cannot decrypt the private keys in .*w\.db: upstreams\/u tls.client_key was encrypted with key id [0-9a-f]{8}.* \(and 1 more\)$/);
      return true;
    });
    assert.throws(() => openStore(path), /no apisix.data_encryption.keyring is configured/);
    // rotation: new key first, old key kept; a rewrite re-encrypts with the new key
    const rotated = openStore(path, { keyring: createKeyring([NEW, OLD]) });
    putObject({ store: rotated }, 'ssls', '1', { ...pem.a, sni: 'a.test.com' });
    rotated.close();
    const again = openStore(path, { keyring: createKeyring([NEW, OLD]) });
    assert.equal(again.get('ssls', '1')!.value.key, pem.a.key);
    again.close();
  });

  it('secret references are stored as sent, not sealed: they name a key, they hold none', () => {
    const store = openStore(join(dir.path, 'refs.db'), { keyring: createKeyring([NEW]) });
    const refs = { sni: 'a.com', cert: '$env://CERT', key: '$ENV://KEY', certs: ['$env://C2'], keys: ['$secret://vault/k'] };
    putObject({ store }, 'ssls', '1', refs);
    const row = JSON.parse(store.get('ssls', '1')!.raw) as Record<string, unknown>;
    assert.deepEqual([row.key, row.keys], ['$ENV://KEY', ['$secret://vault/k']]);
    store.close();
  });
});
