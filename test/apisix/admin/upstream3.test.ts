// APISIX t/admin/upstream3.t against weir (table: test/apisix/README.md).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';

const VARS_PATTERN = String.raw`^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$`;

describe('t/admin/upstream3.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  const expectError = async (method: string, uri: string, body: unknown, message: string) => {
    const r = await h.t(uri, method, body);
    assert.deepEqual([r.status, r.body], [400, JSON.parse(message)]);
  };
  const stored = () => h.w.weir.store.get('upstreams', '1')!.value;

  it('TEST 1: list empty resources', async () => {
    const r = await h.ok(`${ADMIN}/upstreams`, 'GET');
    assert.deepEqual(r.body, JSON.parse('{"list":[],"total":0}'));
  });

  it('TEST 2: retry_timeout is -1 (INVALID)', async () => {
    await expectError('PUT', `${ADMIN}/upstreams/a-b-c-ABC_0123`, `{
      "nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8090": 1},
      "retry_timeout": -1,
      "type": "roundrobin"
    }`, '{"error_msg":"invalid configuration: property \\"retry_timeout\\" validation failed: expected -1 to be at least 0"}');
  });

  it('TEST 3: provide upstream for patch', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', `{
      "nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8090": 1},
      "type": "roundrobin"
    }`);
  });

  it('TEST 4: patch upstream(whole)', async () => {
    const prev = stored();
    await new Promise((r) => setTimeout(r, 1100)); // timestamps are in seconds, as in APISIX
    await h.ok(`${ADMIN}/upstreams/1`, 'PATCH', `{
      "nodes": {"127.0.0.1:8080": 1},
      "type": "roundrobin",
      "desc": "new upstream"
    }`, `{
      "value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream"},
      "key": "/apisix/upstreams/1"
    }`);
    assert.equal(stored().create_time, prev.create_time, 'create_time mismatched');
    assert.notEqual(stored().update_time, prev.update_time, 'update_time should be changed');
  });

  it('TEST 5: patch upstream(new desc)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PATCH', '{"desc": "new 21 upstream"}', `{
      "value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new 21 upstream"},
      "key": "/apisix/upstreams/1"
    }`);
  });

  it('TEST 6: patch upstream(new nodes)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PATCH', '{"nodes": {"127.0.0.1:8081": 3, "127.0.0.1:8082": 4}}', `{
      "value": {
        "nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8081": 3, "127.0.0.1:8082": 4},
        "type": "roundrobin",
        "desc": "new 21 upstream"
      }
    }`);
  });

  it('TEST 7: patch upstream(weight is 0)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PATCH', '{"nodes": {"127.0.0.1:8081": 3, "127.0.0.1:8082": 0}}', `{
      "value": {"nodes": {"127.0.0.1:8081": 3, "127.0.0.1:8082": 0}, "type": "roundrobin", "desc": "new 21 upstream"}
    }`);
  });

  it('TEST 8: patch upstream(whole - sub path)', async () => {
    await h.ok(`${ADMIN}/upstreams/1/`, 'PATCH', `{
      "nodes": {"127.0.0.1:8080": 1},
      "type": "roundrobin",
      "desc": "new upstream 24"
    }`, `{
      "value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream 24"},
      "key": "/apisix/upstreams/1"
    }`);
  });

  it('TEST 9: patch upstream(new desc - sub path)', async () => {
    await h.ok(`${ADMIN}/upstreams/1/desc`, 'PATCH', '"new 25 upstream"', `{
      "value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new 25 upstream"},
      "key": "/apisix/upstreams/1"
    }`);
  });

  it('TEST 10: patch upstream(new nodes)', async () => {
    await h.ok(`${ADMIN}/upstreams/1/nodes`, 'PATCH', '{"127.0.0.6:8081": 3, "127.0.0.7:8082": 4}', `{
      "value": {"nodes": {"127.0.0.6:8081": 3, "127.0.0.7:8082": 4}, "type": "roundrobin", "desc": "new 25 upstream"}
    }`);
  });

  it('TEST 11: patch upstream(weight is 0 - sub path)', async () => {
    await h.ok(`${ADMIN}/upstreams/1/nodes`, 'PATCH', '{"127.0.0.7:8081": 0, "127.0.0.8:8082": 4}', `{
      "value": {"nodes": {"127.0.0.7:8081": 0, "127.0.0.8:8082": 4}, "type": "roundrobin", "desc": "new 25 upstream"}
    }`);
  });

  const chash = (key: string, extra = '') => `{
    "key": "${key}",
    "nodes": {"127.0.0.1:8080": 1},
    "type": "chash"${extra}
  }`;
  const badKey = (hashOn: string | null, key: string) => `{
    "nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8081": 2},
    "type": "chash",
    ${hashOn === null ? '' : `"hash_on": "${hashOn}",`}
    "key": "${key}",
    "desc": "new upstream"
  }`;

  it('TEST 12: set upstream(type: chash)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', chash('server_name'));
  });

  it('TEST 13:  wrong upstream key, hash_on default vars', async () => {
    await expectError('PUT', `${ADMIN}/upstreams/1`, badKey(null, 'not_support'),
      JSON.stringify({ error_msg: `invalid configuration: failed to match pattern "${VARS_PATTERN}" with "not_support"` }));
  });

  it('TEST 14: set upstream with args(type: chash)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', chash('arg_device_id', ', "desc": "new chash upstream"'));
  });

  it('TEST 15: set upstream(type: chash)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', chash('server_name'));
  });

  it('TEST 16:  wrong upstream key, hash_on default vars', async () => {
    await expectError('PUT', `${ADMIN}/upstreams/1`, badKey(null, 'not_support'),
      JSON.stringify({ error_msg: `invalid configuration: failed to match pattern "${VARS_PATTERN}" with "not_support"` }));
  });

  it('TEST 17: set upstream with args(type: chash)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', chash('arg_device_id', ', "desc": "new chash upstream"'));
  });

  it('TEST 18: type chash, hash_on: vars', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', chash('arg_device_id', ', "hash_on": "vars", "desc": "new chash upstream"'));
  });

  it("TEST 19: type chash, hash_on: header, header name with '_', underscores_in_headers on", async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', chash('custom_header', ', "hash_on": "header", "desc": "new chash upstream"'));
  });

  it('TEST 20: type chash, hash_on: header, header name with invalid character', async () => {
    await expectError('PUT', `${ADMIN}/upstreams/1`, chash('$#^@', ', "hash_on": "header", "desc": "new chash upstream"'),
      '{"error_msg":"invalid configuration: failed to match pattern \\"^[a-zA-Z0-9-_]+$\\" with \\"$#^@\\""}');
  });

  it('TEST 21: type chash, hash_on: cookie', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', chash('custom_cookie', ', "hash_on": "cookie", "desc": "new chash upstream"'));
  });

  it('TEST 22: type chash, hash_on: cookie, cookie name with invalid character', async () => {
    await expectError('PUT', `${ADMIN}/upstreams/1`, chash('$#^@abc', ', "hash_on": "cookie", "desc": "new chash upstream"'),
      '{"error_msg":"invalid configuration: failed to match pattern \\"^[a-zA-Z0-9-_]+$\\" with \\"$#^@abc\\""}');
  });

  it('TEST 23: type chash, hash_on: consumer, do not need upstream key', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', `{
      "nodes": {"127.0.0.1:8080": 1},
      "type": "chash",
      "hash_on": "consumer",
      "desc": "new chash upstream"
    }`);
  });

  it('TEST 24: type chash, hash_on: consumer, set key but invalid', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', `{
      "nodes": {"127.0.0.1:8080": 1},
      "type": "chash",
      "hash_on": "consumer",
      "key": "invalid-key",
      "desc": "new chash upstream"
    }`);
  });

  it('TEST 25: type chash, invalid hash_on type', async () => {
    await expectError('PUT', `${ADMIN}/upstreams/1`, chash('dsadas', ', "hash_on": "aabbcc", "desc": "new chash upstream"'),
      '{"error_msg":"invalid configuration: property \\"hash_on\\" validation failed: matches none of the enum values"}');
  });
});
