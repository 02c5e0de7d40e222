// Which etcd keys are weir's objects, and how a value from etcd (APISIX's at-rest key format included) is decoded.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeObject, encodeObject, placeKey } from '../../src/fleet/objects';
import { APISIX_DEFAULT_KEYRING, decryptApisixKey, encryptApisixKey } from '../../src/fleet/apisix-crypto';

const FIX = join(import.meta.dirname, '..', 'fixtures');
const PEM_KEY = readFileSync(join(FIX, 'tls', 'a.test.com.key'), 'utf8');
const PEM_CERT = readFileSync(join(FIX, 'tls', 'a.test.com.crt'), 'utf8');

describe('placeKey', () => {
  const cases: Array<[string, unknown]> = [
    ['/apisix/stream_routes/1', { res: 'stream_routes', id: '1' }],
    ['/apisix/upstreams/00000000000000000012', { res: 'upstreams', id: '00000000000000000012' }],
    ['/apisix/plugin_metadata/syslog', { res: 'plugin_metadata', id: 'syslog' }],
    ['/apisix/services/s', { res: 'services', id: 's' }],
    ['/apisix/ssls/a', { res: 'ssls', id: 'a' }],
    ['/apisix/upstreams/', { skip: 'init_dir placeholder' }],
    ['/apisix/gen_id', { skip: 'gen_id' }],
    ['/apisix/routes/1', { skip: 'not a stream object (routes)' }],
    ['/apisix/data_plane/server_info/x', { skip: 'data_plane' }],
    ['/apisix/upstreams/a/b', { skip: 'nested key in upstreams' }],
    ['/apisixx/upstreams/1', { skip: 'outside the prefix' }],
  ];
  for (const [key, want] of cases) {
    it(`${key}`, () => assert.deepEqual(placeKey('/apisix', key), want));
  }
});

describe('decodeObject', () => {
  const ctx = { keyring: APISIX_DEFAULT_KEYRING };

  it('forces the id to the key and keeps the timestamps', () => {
    const text = JSON.stringify({ id: 'other', nodes: { '127.0.0.1:80': 1 }, type: 'roundrobin', create_time: 1, update_time: 2 });
    assert.deepEqual(decodeObject('upstreams', '7', text, ctx), {
      ok: true,
      value: { id: '7', nodes: { '127.0.0.1:80': 1 }, type: 'roundrobin', create_time: 1, update_time: 2 },
    });
  });

  it('accepts what APISIX writes for an upstream (scheme http, pass_host, hash_on defaults)', () => {
    const text = JSON.stringify({ nodes: [{ host: '127.0.0.1', port: 80, weight: 1 }], type: 'roundrobin', scheme: 'http', pass_host: 'pass', hash_on: 'vars' });
    assert.equal(decodeObject('upstreams', '1', text, ctx).ok, true);
  });

  it('skips HTTP-only upstreams and reports invalid values with a reason', () => {
    assert.deepEqual(decodeObject('upstreams', '1', '{"service_name":"a","discovery_type":"dns"}', ctx), { ok: false, skip: 'upstream uses service discovery (HTTP only)' });
    assert.deepEqual(decodeObject('upstreams', '1', '{"scheme":"grpc","nodes":{"a:1":1}}', ctx), { ok: false, skip: 'upstream scheme grpc (HTTP only)' });
    assert.deepEqual(decodeObject('upstreams', '1', 'init_dir', ctx), { ok: false, invalid: 'value is not JSON' });
    assert.deepEqual(decodeObject('upstreams', '1', '[1]', ctx), { ok: false, invalid: 'value is not a JSON object' });
    const bad = decodeObject('stream_routes', '1', '{"upstream_id":"1","bogus":1}', ctx);
    assert.equal(bad.ok, false);
    assert.match((bad as { invalid: string }).invalid, /bogus/);
  });

  it('decrypts an ssl key APISIX encrypted with its default keyring (AES-128) and a 32-byte entry (AES-256)', () => {
    const aes128 = readFileSync(join(FIX, 'fleet', 'a.test.com.key.apisix-aes128'), 'utf8');
    const aes256 = readFileSync(join(FIX, 'fleet', 'a.test.com.key.apisix-aes256'), 'utf8');
    assert.equal(decryptApisixKey(aes128, APISIX_DEFAULT_KEYRING), PEM_KEY);
    assert.equal(decryptApisixKey(aes256, ['zzzzzzzzzzzzzzzz', 'edd1c9f0985e76a2edd1c9f0985e76a2']), PEM_KEY);
    assert.throws(() => decryptApisixKey(aes128, ['zzzzzzzzzzzzzzzz']), /neither PEM nor encrypted with any/);
    const decoded = decodeObject('ssls', 'a', JSON.stringify({ cert: PEM_CERT, key: aes128, snis: ['a.test.com'] }), ctx);
    assert.equal(decoded.ok, true);
    assert.equal((decoded as unknown as { value: { key: string } }).value.key, PEM_KEY);
  });

  it('encrypts on the way to etcd exactly as openssl does (the fixture), and leaves references alone', () => {
    assert.equal(encryptApisixKey(PEM_KEY, APISIX_DEFAULT_KEYRING), readFileSync(join(FIX, 'fleet', 'a.test.com.key.apisix-aes128'), 'utf8'));
    assert.equal(encryptApisixKey('$env://KEY', APISIX_DEFAULT_KEYRING), '$env://KEY');
    const text = encodeObject('ssls', { id: 'a', cert: PEM_CERT, key: PEM_KEY }, APISIX_DEFAULT_KEYRING);
    assert.equal(decryptApisixKey(JSON.parse(text).key, APISIX_DEFAULT_KEYRING), PEM_KEY);
  });
});
