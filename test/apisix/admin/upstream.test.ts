// APISIX t/admin/upstream.t against weir (table: test/apisix/README.md).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness, certs } from '../harness';

describe('t/admin/upstream.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  const expectError = async (method: string, uri: string, body: unknown, status: number, message: string | RegExp) => {
    const r = await h.t(uri, method, body);
    assert.equal(r.status, status, JSON.stringify(r.body));
    if (typeof message === 'string') assert.deepEqual(r.body, JSON.parse(message));
    else assert.match(JSON.stringify(r.body), message);
  };

  it('TEST 1: set upstream (use an id can\'t be referred by other route so that we can delete it later)', async () => {
    const r = await h.ok(`${ADMIN}/upstreams/admin_up`, 'PUT', `{
      "nodes": {"127.0.0.1:8080": 1},
      "type": "roundrobin",
      "desc": "new upstream"
    }`, `{
      "value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream"},
      "key": "/apisix/upstreams/admin_up"
    }`);
    assert.equal(r.status, 201);
    const stored = h.w.weir.store.get('upstreams', 'admin_up')!.value;
    assert.deepEqual([typeof stored.create_time, typeof stored.update_time], ['number', 'number']);
  });

  it('TEST 2: get upstream', async () => {
    await h.ok(`${ADMIN}/upstreams/admin_up`, 'GET', undefined, `{
      "value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream"},
      "key": "/apisix/upstreams/admin_up"
    }`);
  });

  it('TEST 3: delete upstream', async () => {
    assert.equal((await h.t(`${ADMIN}/upstreams/admin_up`, 'DELETE')).status, 200);
  });

  it('TEST 4: delete upstream(id: not_found)', async () => {
    assert.equal((await h.t(`${ADMIN}/upstreams/not_found`, 'DELETE')).status, 404);
  });

  it('TEST 5: push upstream + delete', async () => {
    const r = await h.ok(`${ADMIN}/upstreams`, 'POST', `{
      "nodes": {"127.0.0.1:8080": 1},
      "type": "roundrobin"
    }`, `{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}}`);
    const id = (r.body.key as string).slice('/apisix/upstreams/'.length);
    const stored = h.w.weir.store.get('upstreams', id)!.value;
    assert.deepEqual([typeof stored.create_time, typeof stored.update_time], ['number', 'number']);
    assert.equal((await h.t(`${ADMIN}/upstreams/${id}`, 'DELETE')).status, 200);
  });

  it('TEST 6: invalid upstream id in uri', async () => {
    const r = await h.t(`${ADMIN}/upstreams/invalid_id$`, 'PUT', `{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}`);
    assert.equal(r.status, 400);
  });

  it('TEST 7: different id', async () => {
    await expectError('PUT', `${ADMIN}/upstreams/1`, `{"id": 3, "nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}`,
      400, '{"error_msg":"wrong upstream id"}');
  });

  it('TEST 8: id in the rule', async () => {
    await h.ok(`${ADMIN}/upstreams`, 'PUT', `{"id": "1", "nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}`, `{
      "value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"},
      "key": "/apisix/upstreams/1"
    }`);
  });

  it('TEST 9: integer id less than 1', async () => {
    await expectError('PUT', `${ADMIN}/upstreams`, `{"id": -100, "nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}`,
      400, '{"error_msg":"invalid configuration: property \\"id\\" validation failed: object matches none of the required"}');
  });

  it('TEST 10: invalid upstream id: string value', async () => {
    await expectError('PUT', `${ADMIN}/upstreams`, `{"id": "invalid_id$", "nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}`,
      400, '{"error_msg":"invalid configuration: property \\"id\\" validation failed: object matches none of the required"}');
  });

  it('TEST 11: additional properties is invalid', async () => {
    await expectError('PUT', `${ADMIN}/upstreams`, `{
      "id": 1,
      "nodes": {"127.0.0.1:8080": 1},
      "type": "roundrobin",
      "_service_name": "xyz",
      "_discovery_type": "nacos"
    }`, 400, /^\{"error_msg":"invalid configuration: additional properties forbidden, found .*"\}$/);
  });

  it('TEST 12: set upstream(type: chash)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', `{"key": "remote_addr", "nodes": {"127.0.0.1:8080": 1}, "type": "chash"}`, `{
      "value": {"key": "remote_addr", "nodes": {"127.0.0.1:8080": 1}, "type": "chash"},
      "key": "/apisix/upstreams/1"
    }`);
  });

  // [weir] deliberate difference from this block: APISIX accepts any balancer name and fails at the first
  // connection; weir refuses a type it has no balancer for when the upstream is written.
  it('TEST 13: unknown type (differs: 400)', async () => {
    await expectError('PUT', `${ADMIN}/upstreams`, `{"id": 1, "nodes": {"127.0.0.1:8080": 1}, "type": "unknown"}`,
      400, '{"error_msg":"invalid configuration: property \\"type\\" validation failed: unknown balancer unknown"}');
  });

  it('TEST 14: invalid weight of node', async () => {
    await expectError('PUT', `${ADMIN}/upstreams`, `{"id": 1, "nodes": {"127.0.0.1:8080": "1"}, "type": "chash"}`,
      400, '{"error_msg":"invalid configuration: property \\"nodes\\" validation failed: object matches none of the required"}');
  });

  it('TEST 15: invalid weight of node', async () => {
    await expectError('PUT', `${ADMIN}/upstreams`, `{"id": 1, "nodes": {"127.0.0.1:8080": -100}, "type": "chash"}`,
      400, '{"error_msg":"invalid configuration: property \\"nodes\\" validation failed: object matches none of the required"}');
  });

  it('TEST 16: set upstream (missing key)', async () => {
    await expectError('PUT', `${ADMIN}/upstreams/1`, `{"nodes": {"127.0.0.1:8080": 1}, "type": "chash"}`,
      400, '{"error_msg":"missing key"}');
  });

  it('TEST 17: wrong upstream id, do not need it', async () => {
    await expectError('POST', `${ADMIN}/upstreams/1`, `{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}`,
      400, '{"error_msg":"wrong upstream id, do not need it"}');
  });

  it('TEST 18: wrong upstream id, do not need it', async () => {
    await expectError('POST', `${ADMIN}/upstreams`, `{"id": 1, "nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}`,
      400, '{"error_msg":"wrong upstream id, do not need it"}');
  });

  it('TEST 19: client_cert/client_key and client_cert_id cannot appear at the same time', async () => {
    const data = {
      nodes: { '127.0.0.1:8080': 1 },
      type: 'roundrobin',
      tls: { client_cert_id: 1, client_cert: certs.apisix.cert, client_key: certs.apisix.key },
    };
    // APISIX's expectation is a regex whose `|` splits it in two; its first half is a prefix of this message
    await expectError('POST', `${ADMIN}/upstreams`, data, 400,
      /^\{"error_msg":"invalid configuration: property \\"tls\\" validation failed: failed to validate dependent schema for \\"client_cert/);
    await expectError('POST', `${ADMIN}/upstreams`, data, 400, '{"error_msg":"invalid configuration: property \\"tls\\" validation failed: ' +
      'failed to validate dependent schema for \\"client_cert_id\\": value wasn\'t supposed to match schema"}');
  });

  it('TEST 20: tls.client_cert_id does not exist', async () => {
    const data = { nodes: { '127.0.0.1:8080': 1 }, type: 'roundrobin', tls: { client_cert_id: 9999999 } };
    await expectError('POST', `${ADMIN}/upstreams`, data, 400,
      '{"error_msg":"failed to fetch ssl info by ssl id [9999999], response code: 404"}');
  });

  // APISIX puts the upstream in an HTTP route (/apisix/admin/routes); weir has stream routes only, whose
  // inline upstream is checked the same way.
  it('TEST 21: tls.client_cert_id exist with wrong ssl type', async () => {
    await h.ok(`${ADMIN}/ssls/1`, 'PUT', { sni: 'test.com', cert: certs.mtlsClient.cert, key: certs.mtlsClient.key });
    await expectError('PUT', `${ADMIN}/stream_routes/1`, {
      upstream: { scheme: 'https', type: 'roundrobin', nodes: { '127.0.0.1:1983': 1 }, tls: { client_cert_id: 1 } },
    }, 400, '{"error_msg":"failed to fetch ssl info by ssl id [1], wrong ssl type"}');
  });

  it('TEST 22: type with default vale', async () => {
    await h.ok(`${ADMIN}/upstreams/admin_up`, 'PUT', `{"nodes": {"127.0.0.1:8080": 1}, "desc": "new upstream"}`, `{
      "value": {"nodes": {"127.0.0.1:8080": 1}, "desc": "new upstream"},
      "key": "/apisix/upstreams/admin_up"
    }`);
  });

  it('TEST 23: verify wrong Ipv6', async () => {
    const data = { nodes: [{ host: '::1', port: 80, weight: 1 }], type: 'roundrobin' };
    await expectError('POST', `${ADMIN}/upstreams`, data, 400,
      '{"error_msg":"invalid configuration: IPv6 address must be enclosed with \'[\' and \']\'"}');
  });
});
