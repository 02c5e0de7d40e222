// APISIX t/admin/ssl.t against weir (table: test/apisix/README.md). t/certs/* are weir's fixtures (harness.ts).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness, certs } from '../harness';

describe('t/admin/ssl.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  const { cert, key } = certs.apisix;
  const expectError = async (body: unknown, message: string) => {
    const r = await h.t(`${ADMIN}/ssls/1`, 'PUT', body);
    assert.deepEqual([r.status, r.body], [400, JSON.parse(message)]);
  };
  const THEN = '{"error_msg":"invalid configuration: then clause did not match"}';

  it('TEST 1: set ssl(id: 1)', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { cert, key, sni: 'test.com' }, '{"value": {"sni": "test.com"}, "key": "/apisix/ssls/1"}');
    const stored = h.w.weir.store.get('ssls', '1')!.value;
    assert.deepEqual([typeof stored.create_time, typeof stored.update_time], ['number', 'number']);
  });

  it('TEST 2: get ssl(id: 1)', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'GET', undefined, '{"value": {"sni": "test.com", "key": null}, "key": "/apisix/ssls/1"}');
  });

  it('TEST 3: delete ssl(id: 1)', async () => {
    assert.equal((await h.t(`${ADMIN}/ssls/1`, 'DELETE')).status, 200);
  });

  it('TEST 4: delete ssl(id: 99999999999999)', async () => {
    assert.equal((await h.t(`${ADMIN}/ssls/99999999999999`, 'DELETE')).status, 404);
  });

  it('TEST 5: push ssl + delete', async () => {
    const r = await h.ok(`${ADMIN}/ssls`, 'POST', { cert, key, sni: 'foo.com' }, '{"value": {"sni": "foo.com"}}');
    const id = (r.body.key as string).slice('/apisix/ssls/'.length);
    assert.equal((await h.t(`${ADMIN}/ssls/${id}`, 'DELETE')).status, 200);
  });

  it('TEST 6: missing certificate information', async () => {
    await expectError({ sni: 'foo.com' }, THEN);
  });

  it('TEST 7: wildcard host name', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { cert, key, sni: '*.foo.com' }, '{"value": {"sni": "*.foo.com"}, "key": "/apisix/ssls/1"}');
  });

  it('TEST 8: store sni in `snis`', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { cert, key, snis: ['*.foo.com', 'bar.com'] },
      '{"value": {"snis": ["*.foo.com", "bar.com"]}, "key": "/apisix/ssls/1"}');
  });

  it('TEST 9: string id', async () => {
    await h.ok(`${ADMIN}/ssls/a-b-c-ABC_0123`, 'PUT', { cert, key, sni: 'test.com' });
  });

  it('TEST 10: string id(delete)', async () => {
    assert.equal((await h.t(`${ADMIN}/ssls/a-b-c-ABC_0123`, 'DELETE')).status, 200);
  });

  it('TEST 11: invalid id', async () => {
    assert.equal((await h.t(`${ADMIN}/ssls/*invalid`, 'PUT', { cert, key, sni: 'test.com' })).status, 400);
  });

  it('TEST 12: set ssl with multicerts(id: 1)', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { cert, key, sni: 'test.com', certs: [certs.ecc.cert], keys: [certs.ecc.key] },
      '{"value": {"sni": "test.com"}, "key": "/apisix/ssls/1"}');
  });

  it('TEST 13: mismatched certs and keys', async () => {
    await expectError({ sni: 'test.com', certs: [certs.ecc.cert], keys: [] }, THEN);
  });

  it('TEST 14: set ssl(with labels)', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { cert, key, sni: 'test.com', labels: { version: 'v2', build: '16', env: 'production' } },
      '{"value": {"sni": "test.com", "labels": {"version": "v2", "build": "16", "env": "production"}}, "key": "/apisix/ssls/1"}');
  });

  it('TEST 15: invalid format of label value: set ssl', async () => {
    await expectError({ cert, key, sni: 'test.com', labels: { env: ['production', 'release'] } },
      '{"error_msg":"invalid configuration: property \\"labels\\" validation failed: failed to validate env (matching \\".*\\"): wrong type: expected string, got table"}');
  });

  it('TEST 16: create ssl with manage fields(id: 1)', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { cert, key, sni: 'test.com' }, '{"value": {"sni": "test.com"}, "key": "/apisix/ssls/1"}');
  });

  it('TEST 17: delete test ssl(id: 1)', async () => {
    assert.equal((await h.t(`${ADMIN}/ssls/1`, 'DELETE')).status, 200);
  });

  it('TEST 18: create/patch ssl', async () => {
    const r = await h.ok(`${ADMIN}/ssls`, 'POST', { cert, key, sni: 'test.com' }, '{"value": {"sni": "test.com"}}');
    const id = (r.body.key as string).slice('/apisix/ssls/'.length);
    const before = h.w.weir.store.get('ssls', id)!.value;
    assert.deepEqual([typeof before.create_time, typeof before.update_time], ['number', 'number']);
    await h.ok(`${ADMIN}/ssls/${id}`, 'PATCH', { create_time: 0, update_time: 1 });
    const after = h.w.weir.store.get('ssls', id)!.value;
    assert.deepEqual([after.create_time, after.update_time], [0, 1]);
    assert.equal((await h.t(`${ADMIN}/ssls/${id}`, 'DELETE')).status, 200);
  });

  it('TEST 19: missing sni information', async () => {
    await expectError({ cert, key }, THEN);
  });

  it('TEST 20: type client, missing sni information', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { type: 'client', cert, key }, '{"key": "/apisix/ssls/1"}');
  });

  it('TEST 21: set ssl with sercret', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', {
      sni: 'test.com',
      cert: '$secret://vault/test/ssl/test.com.crt',
      key: '$secret://vault/test/ssl/test.com.key',
      certs: ['$secret://vault/test/ssl/test.com.2.crt'],
      keys: ['$secret://vault/test/ssl/test.com.2.key'],
    }, `{
      "value": {
        "sni": "test.com",
        "cert": "$secret://vault/test/ssl/test.com.crt",
        "key": "$secret://vault/test/ssl/test.com.key",
        "certs": ["$secret://vault/test/ssl/test.com.2.crt"],
        "keys": ["$secret://vault/test/ssl/test.com.2.key"]
      },
      "key": "/apisix/ssls/1"
    }`);
  });

  it('TEST 22: set ssl with env, and prefix is all uppercase or lowercase', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', {
      sni: 'test.com',
      cert: '$ENV://APISIX_TEST_SSL_CERT',
      key: '$env://APISIX_TEST_SSL_KEY',
      certs: ['$env://APISIX_TEST_SSL_CERTS'],
      keys: ['$ENV://APISIX_TEST_SSL_KEYS'],
    }, `{
      "value": {
        "sni": "test.com",
        "cert": "$ENV://APISIX_TEST_SSL_CERT",
        "key": "$env://APISIX_TEST_SSL_KEY",
        "certs": ["$env://APISIX_TEST_SSL_CERTS"],
        "keys": ["$ENV://APISIX_TEST_SSL_KEYS"]
      },
      "key": "/apisix/ssls/1"
    }`);
  });

  it('TEST 23: set ssl with invalid prefix', async () => {
    await expectError({
      sni: 'test.com',
      cert: '$ENV://APISIX_TEST_SSL_CERT',
      key: '$env://APISIX_TEST_SSL_KEY',
      certs: ['https://APISIX_TEST_SSL_CERTS'],
      keys: ['$ENV://APISIX_TEST_SSL_KEYS'],
    }, '{"error_msg":"invalid configuration: property \\"certs\\" validation failed: failed to validate item 1: string too short, expected at least 128, got 29"}');
  });

  it('TEST 24: GET single ssl strips keys array from multi-cert response', async () => {
    const put = await h.t(`${ADMIN}/ssls/1`, 'PUT', { cert, key, sni: 'test.com', certs: [certs.ecc.cert], keys: [certs.ecc.key] });
    assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
    const got = await h.ok(`${ADMIN}/ssls/1`, 'GET');
    assert.deepEqual(['key' in got.body.value, 'keys' in got.body.value], [false, false]);
  });

  it('TEST 25: GET list ssl strips key and keys from all items', async () => {
    const list = (await h.ok(`${ADMIN}/ssls`, 'GET')).body.list as { value: object }[];
    assert.ok(list.length > 0, 'FAIL: empty list');
    for (const item of list) assert.deepEqual(['key' in item.value, 'keys' in item.value], [false, false]);
  });

  it('TEST 26: cleanup ssl created in TEST 24', async () => {
    assert.equal((await h.t(`${ADMIN}/ssls/1`, 'DELETE')).status, 200);
  });
});
