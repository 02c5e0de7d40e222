// Snapshot SSL compile: a private key the keyring cannot open takes only its own certificate out of service.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildSnapshot } from '../../src/snapshot/build';
import { findCertificate, isKeyringProblem, keyringFailures } from '../../src/snapshot/ssl';
import { createKeyring, encryptSecret, sealedKeyId } from '../../src/store/keyring';
import type { StoredObject } from '../../src/store/types';
import { pem } from '../tls/fixtures';

function row(id: string, value: Record<string, unknown>): StoredObject {
  const full = { id, ...value };
  return { id, value: full, createdIndex: 1, modifiedIndex: 1, raw: JSON.stringify(full) };
}

describe('SSL keys the keyring cannot open', () => {
  it('fail that SSL only, with an ERR_KEYRING problem naming the key id and its SNIs, counted by keyringFailures', () => {
    const sealed = encryptSecret(createKeyring(['edd1c9f0985e76a1']), pem.a.key); // as the store hands it out
    const ssls = [
      row('1', { sni: 'www.test.com', cert: pem.a.cert, key: sealed }),
      row('2', { snis: ['*.test.com'], cert: pem.wild.cert, key: pem.wild.key }),
    ];
    const { snapshot, problems } = buildSnapshot({ revision: 1, streamRoutes: [], upstreams: [], ssls, unreadable: [] }, null);
    assert.deepEqual(problems, [
      `ssls/1: skipped: ERR_KEYRING: key cannot be decrypted: it was sealed with key id ${sealedKeyId(sealed)}, which ` +
        'apisix.data_encryption.keyring does not hold (restore that keyring entry, or write the object again with its key); ' +
        'not serving www.test.com',
    ]);
    assert.deepEqual(keyringFailures(snapshot), ['ssls/1']);
    assert.ok(problems.every(isKeyringProblem));
    // www.test.com is not served by ssl 1; the wildcard still serves everything else
    assert.equal(findCertificate(snapshot.certificates, 'www.test.com')?.id, '2');
    assert.equal(findCertificate(snapshot.certificates, 'b.test.com')?.id, '2');
  });

  it('other problems are not keyring problems', () => {
    assert.equal(isKeyringProblem('ssls/3: skipped: failed to parse cert: PEM_read_bio_X509_AUX() failed'), false);
    assert.equal(isKeyringProblem('upstreams/u: skipped: failed to decrypt previous encrypted key'), true);
  });
});
