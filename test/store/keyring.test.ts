// Keyring: encryption at rest, rotation (first encrypts, all decrypt), keys the keyring cannot open, keys in clear.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyringError, createKeyring, decryptSecret, encryptSecret } from '../../src/store/keyring';
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

  it('a store opened with the wrong keyring still opens: undecryptable keys stay sealed; the file holds no key', () => {
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
    // APISIX ssl4.t 5: one certificate the keyring cannot open must not keep the rest from being served
    for (const ring of [createKeyring([NEW]), null]) {
      const other = openStore(path, { keyring: ring });
      const sealed = other.get('ssls', '1')!.value.key as string;
      assert.match(sealed, /^\$weir\$enc1\$[0-9a-f]{8}\$/);
      assert.equal(sealed.includes('PRIVATE KEY'), false);
      assert.equal(other.readAll().unreadable.length, 0);
      other.close();
    }
    // rotation: new key first, old key kept; a rewrite re-encrypts with the new key
    const rotated = openStore(path, { keyring: createKeyring([NEW, OLD]) });
    putObject({ store: rotated }, 'ssls', '1', { ...pem.a, sni: 'a.test.com' });
    rotated.close();
    const again = openStore(path, { keyring: createKeyring([NEW, OLD]) });
    assert.equal(again.get('ssls', '1')!.value.key, pem.a.key);
    again.close();
    const newOnly = openStore(path, { keyring: createKeyring([NEW]) });
    assert.equal(newOnly.get('ssls', '1')!.value.key, pem.a.key, 'rewritten under the new key');
    newOnly.close();
  });

  it('a decrypt-only keyring (keys in clear on request) stores new keys in clear and still opens sealed ones', () => {
    const path = join(dir.path, 'plain.db');
    const sealing = openStore(path, { keyring: createKeyring([OLD]) });
    putObject({ store: sealing }, 'ssls', 'old', { ...pem.a, sni: 'a.test.com' });
    sealing.close();
    const plain = openStore(path, { keyring: { ...createKeyring([OLD]), seals: false } });
    putObject({ store: plain }, 'ssls', 'new', { ...pem.a, sni: 'b.test.com' });
    assert.equal(JSON.parse(plain.get('ssls', 'new')!.raw).key, pem.a.key, 'stored in clear');
    assert.equal(plain.get('ssls', 'old')!.value.key, pem.a.key, 'opened');
    assert.match(JSON.parse(plain.get('ssls', 'old')!.raw).key, /^\$weir\$enc1\$/);
    plain.close();
  });

  it('secret references are stored as sent, not sealed: they name a key, they hold none', () => {
    const store = openStore(join(dir.path, 'refs.db'), { keyring: createKeyring([NEW]) });
    const refs = { sni: 'a.com', cert: '$env://CERT', key: '$ENV://KEY', certs: ['$env://C2'], keys: ['$secret://vault/k'] };
    putObject({ store }, 'ssls', '1', refs);
    const row = JSON.parse(store.get('ssls', '1')!.raw) as Record<string, unknown>;
    assert.deepEqual([row.key, row.keys], ['$ENV://KEY', ['$secret://vault/k']]);
    store.close();
  });

  it("keyringCheck 'sample' decrypts one row per key id in use: a wrong keyring, or a key id missing from it, still refuses", () => {
    const path = join(dir.path, 'sample.db');
    const old = openStore(path, { keyring: createKeyring([OLD]) });
    putObject({ store: old }, 'ssls', '1', { ...pem.a, sni: 'a.test.com' });
    old.close();
    const both = openStore(path, { keyring: createKeyring([NEW, OLD]) });
    for (let i = 0; i < 20; i++) putObject({ store: both }, 'stream_routes', `r${i}`, { upstream: { nodes: { '127.0.0.1:1': 1 } } });
    putObject({ store: both }, 'upstreams', 'u', { nodes: { '127.0.0.1:1': 1 }, scheme: 'tls', tls: { client_cert: pem.client.cert, client_key: pem.client.key } });
    both.close();
    // two key ids in use now: OLD (ssls/1) and NEW (upstreams/u)
    assert.doesNotThrow(() => openStore(path, { keyring: createKeyring([NEW, OLD]), keyringCheck: 'sample' }).close());
    assert.throws(() => openStore(path, { keyring: createKeyring([NEW]), keyringCheck: 'sample' }), (err: Error) => {
      assert.ok(err instanceof KeyringError);
      assert.match(err.message, /^ERR_KEYRING: cannot decrypt the private keys in .*sample\.db: ssls\/1 key was encrypted with key id [0-9a-f]{8}, which is not in/);
      return true;
    });
    assert.throws(() => openStore(path, { keyring: createKeyring([OLD]), keyringCheck: 'sample' }), /upstreams\/u tls\.client_key was encrypted with key id/);
    assert.throws(() => openStore(path, { keyringCheck: 'sample' }), /no apisix.data_encryption.keyring is configured \(and 1 more\)$/);
  });
});
