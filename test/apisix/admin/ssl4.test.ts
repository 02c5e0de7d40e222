// APISIX t/admin/ssl4.t against weir (table: test/apisix/README.md). Each block's yaml_config is a restart of
// weir on the same database with that apisix.data_encryption; APISIX's HTTPS requests to /hello become TLS
// connections to weir's TLS listener, routed by a stream route to the hello server.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness, certs } from '../harness';
import { openSqlite } from '../../../src/runtime/index';
import { keyringFailures } from '../../../src/snapshot/ssl';
import { cli } from '../../cli/harness';

const keyring = (...entries: string[]) => `  data_encryption:\n    keyring:\n${entries.map((e) => `      - ${e}`).join('\n')}`;
const OLD_STYLE = '  data_encryption:\n    keyring: "edd1c9f0985e76a1"';
const NO_KEYRING = '  data_encryption:\n    keyring: null';

describe('t/admin/ssl4.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start({ apisixYaml: keyring('edd1c9f0985e76a1', 'qeddd145sfvddff3') })));
  after(() => h.close());

  const { cert, key } = certs.apisix;
  /** The client request of APISIX's config block: TLS with SNI www.test.com, then the hello server's answer. */
  const request = (sni = 'www.test.com') => h.streamTls({ sni });
  const storedKey = (id: string): string => {
    const db = openSqlite(h.w.dbPath);
    try {
      return JSON.parse(String(db.prepare('SELECT value FROM ssls WHERE id = ?').get(id)!.value)).key;
    } finally {
      db.close();
    }
  };

  it('TEST 1: set ssl(sni: www.test.com), encrypt with the first keyring', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { cert, key, sni: 'www.test.com' }, '{"value": {"sni": "www.test.com"}, "key": "/apisix/ssls/1"}');
    assert.equal(storedKey('1').includes('PRIVATE KEY'), false);
  });

  // APISIX's route is an HTTP route to 127.0.0.1:1980 (/hello); here a stream route to the hello server.
  it('TEST 2: set route(id: 1)', async () => {
    await h.restart({ apisixYaml: OLD_STYLE });
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', '{"upstream": {"nodes": {"127.0.0.1:1995": 1}, "type": "roundrobin"}}');
  });

  it('TEST 3: client request with the old style keyring', async () => {
    const r = await request();
    assert.deepEqual([r.handshake, r.data], [true, 'hello world\n']);
  });

  it('TEST 4: client request with the new style keyring', async () => {
    await h.restart({ apisixYaml: keyring('edd1c9f0985e76a1') });
    const r = await request();
    assert.deepEqual([r.handshake, r.data], [true, 'hello world\n']);
  });

  // APISIX starts, logs "decrypt ssl key failed" and fails this certificate's handshakes only; weir too.
  it('TEST 5: client request failed with the wrong keyring', async () => {
    await h.restart({ apisixYaml: keyring('qeddd145sfvddff3') });
    const r = await request();
    assert.equal(r.handshake, false, 'www.test.com has no usable certificate');
    assert.equal((await h.stream()).data, 'hello world\n', 'everything else is served');
    assert.deepEqual(keyringFailures(h.w.weir.snapshot()), ['ssls/1']);
    assert.ok(h.logs.some((l) => / error ssls\/1: skipped: ERR_KEYRING: key cannot be decrypted/.test(l)), 'logged as an error');
    const check = await cli(['check', '-c', h.w.configPath]);
    assert.equal(check.code, 2);
    assert.match(check.err, /^weir: ssls\/1: skipped: ERR_KEYRING: key cannot be decrypted: it was sealed with key id [0-9a-f]{8}, which apisix.data_encryption.keyring does not hold .*; not serving www\.test\.com$/m);
  });

  it('TEST 6: client request successfully, use the two keyring to decrypt in turn', async () => {
    await h.restart({ apisixYaml: keyring('qeddd145sfvddff3', 'edd1c9f0985e76a1') });
    const r = await request();
    assert.deepEqual([r.handshake, r.data], [true, 'hello world\n']);
  });

  it('TEST 7: remove test ssl certs', async () => {
    await h.restart({ apisixYaml: keyring('edd1c9f0985e76a1') });
    assert.equal((await h.t(`${ADMIN}/ssls/1`, 'DELETE')).status, 200);
  });

  it('TEST 8: set ssl(sni: www.test.com), do not encrypt', async () => {
    await h.restart({ apisixYaml: NO_KEYRING });
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { cert, key, sni: 'www.test.com' }, '{"value": {"sni": "www.test.com"}, "key": "/apisix/ssls/1"}');
    assert.equal(storedKey('1'), key, 'keyring: null stores the key as sent');
  });

  it('TEST 9: client request without keyring', async () => {
    const r = await request();
    assert.deepEqual([r.handshake, r.data], [true, 'hello world\n']);
  });

  it('TEST 10: remove test ssl certs', async () => {
    assert.equal((await h.t(`${ADMIN}/ssls/1`, 'DELETE')).status, 200);
  });

  it('TEST 11: set ssl(sni: www.test.com) with long label', async () => {
    const secret = 'js-design-test-bigdata-data-app-service-router-my-secret-number-123456';
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { cert, key, sni: 'www.test.com', labels: { secret } },
      { value: { sni: 'www.test.com', labels: { secret } }, key: '/apisix/ssls/1' });
  });

  it('TEST 12: set ssl(sni: www.test.com), encrypt with the first keyring', async () => {
    await h.restart({ apisixYaml: keyring('edd1c9f0985e76a1') });
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { cert, key, sni: 'test.com' }, '{"value": {"sni": "test.com"}, "key": "/apisix/ssls/1"}');
  });

  it('TEST 13: update encrypt keyring, and set ssl(sni: test2.com)', async () => {
    await h.restart({ apisixYaml: keyring('qeddd145sfvddff3', 'edd1c9f0985e76a1') });
    await h.ok(`${ADMIN}/ssls/2`, 'PUT', { ...certs.test2, sni: 'test2.com' }, '{"value": {"sni": "test2.com"}, "key": "/apisix/ssls/2"}');
  });

  // APISIX's TEST 14 is titled test.com but its curl asks test2.com, as TEST 15 does; here TEST 14 asks
  // test.com (sealed by TEST 12 with the second keyring entry) and TEST 15 test2.com (sealed by the first).
  it('TEST 14: Successfully access test.com', async () => {
    const r = await request('test.com');
    assert.deepEqual([r.handshake, r.data], [true, 'hello world\n']);
  });

  it('TEST 15: Successfully access test2.com', async () => {
    const r = await request('test2.com');
    assert.deepEqual([r.handshake, r.data], [true, 'hello world\n']);
    assert.deepEqual(keyringFailures(h.w.weir.snapshot()), []);
  });
});
