// APISIX t/admin/upstream4.t against weir (table: test/apisix/README.md).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';

describe('t/admin/upstream4.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  const expectError = async (method: string, uri: string, body: unknown, message: string) => {
    const r = await h.t(uri, method, body);
    assert.deepEqual([r.status, r.body], [400, JSON.parse(message)]);
  };
  const stored = () => h.w.weir.store.get('upstreams', '1')!.value;
  const NODES = '"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"';
  const LABELS = '{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "labels": {"build":"16", "env":"production", "version":"v2"}}, "key": "/apisix/upstreams/1"}';

  it('TEST 1: set upstream(id: 1 + name: test name)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', `{${NODES}, "name": "test upstream name"}`,
      `{"value": {${NODES}, "name": "test upstream name"}, "key": "/apisix/upstreams/1"}`);
  });

  it('TEST 2: string id', async () => {
    await h.ok(`${ADMIN}/upstreams/a-b-c-ABC_0123`, 'PUT', `{${NODES}}`);
  });

  it('TEST 3: string id(delete)', async () => {
    assert.equal((await h.t(`${ADMIN}/upstreams/a-b-c-ABC_0123`, 'DELETE')).status, 200);
  });

  it('TEST 4: invalid string id', async () => {
    await expectError('PUT', `${ADMIN}/upstreams/*invalid`, `{${NODES}}`,
      '{"error_msg":"invalid configuration: property \\"id\\" validation failed: object matches none of the required"}');
  });

  it('TEST 5: retries is 0', async () => {
    await h.ok(`${ADMIN}/upstreams/a-b-c-ABC_0123`, 'PUT', '{"nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8090": 1}, "retries": 0, "type": "roundrobin"}');
  });

  it('TEST 6: retries is -1 (INVALID)', async () => {
    await expectError('PUT', `${ADMIN}/upstreams/a-b-c-ABC_0123`,
      '{"nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8090": 1}, "retries": -1, "type": "roundrobin"}',
      '{"error_msg":"invalid configuration: property \\"retries\\" validation failed: expected -1 to be at least 0"}');
  });

  it('TEST 7: invalid route: empty `upstream_host` when `pass_host` is `rewrite`', async () => {
    const r = await h.t(`${ADMIN}/upstreams/1`, 'PUT', `{
      "nodes": {"apisix.com:8080": 1, "test.com:8080": 1},
      "type": "roundrobin",
      "pass_host": "rewrite",
      "upstream_host": ""
    }`);
    assert.equal(r.status, 400);
  });

  it('TEST 8: set upstream(with labels)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', `{${NODES}, "labels": {"build":"16", "env":"production", "version":"v2"}}`, LABELS);
  });

  it('TEST 9: get upstream(with labels)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'GET', undefined, LABELS);
  });

  it('TEST 10: patch upstream(only labels)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PATCH', '{"labels": {"build": "17"}}',
      `{"value": {${NODES}, "labels": {"version":"v2", "build":"17", "env":"production"}}, "key": "/apisix/upstreams/1"}`);
  });

  it('TEST 11: invalid format of label value: set upstream', async () => {
    await expectError('PUT', `${ADMIN}/upstreams/1`, `{${NODES}, "labels": {"env": ["production", "release"]}}`,
      '{"error_msg":"invalid configuration: property \\"labels\\" validation failed: failed to validate env (matching \\".*\\"): wrong type: expected string, got table"}');
  });

  it('TEST 12: patch upstream(whole, create_time)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PATCH', `{${NODES}, "desc": "new upstream", "create_time": 1705252779}`,
      `{"value": {${NODES}, "desc": "new upstream", "create_time": 1705252779}, "key": "/apisix/upstreams/1"}`);
    assert.equal(stored().create_time, 1705252779, 'create_time mismatched');
  });

  it('TEST 13: patch upstream(whole, update_time)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PATCH', `{${NODES}, "desc": "new upstream", "update_time": 1705252779}`,
      `{"value": {${NODES}, "desc": "new upstream", "create_time": 1705252779}, "key": "/apisix/upstreams/1"}`);
    assert.equal(stored().update_time, 1705252779, 'update_time mismatched');
  });

  it('TEST 14: create upstream with create_time and update_time', async () => {
    const r = await h.t(`${ADMIN}/upstreams/up_create_update_time`, 'PUT',
      `{${NODES}, "create_time": 1602883670, "update_time": 1602893670}`);
    assert.equal(r.status, 400);
    assert.match(JSON.stringify(r.body), /^\{"error_msg":"the property is forbidden:.*"\}$/);
  });

  it('TEST 15: patch upstream with sub_path, the data is number', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', '{"nodes": {}, "type": "roundrobin"}');
    const prev = stored();
    await new Promise((r) => setTimeout(r, 1100)); // timestamps are in seconds
    await h.ok(`${ADMIN}/upstreams/1/retries`, 'PATCH', JSON.stringify(1));
    assert.equal(stored().create_time, prev.create_time, 'create_time mismatched');
    assert.notEqual(stored().update_time, prev.update_time, 'update_time should be changed');
    assert.equal(stored().retries, 1);
  });

  it('TEST 16: set upstream(id: 1)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', `{${NODES}}`);
  });

  // TEST 17 (a service using the upstream) needs services: see the README.

  // APISIX's route here is an HTTP route; at L4 it is a stream route with the same upstream_id.
  it('TEST 18: set route(id: 1)', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', '{"upstream_id": 1}');
  });

  // [weir] deliberate difference: APISIX checks HTTP routes only ("route [1]"); weir refuses for stream
  // routes ("stream_route [1]"), which APISIX does not check.
  it('TEST 19: delete upstream(id: 1) (differs: names the stream route)', async () => {
    const r = await h.t(`${ADMIN}/upstreams/1`, 'DELETE');
    assert.deepEqual([r.status, r.body], [400, { error_msg: 'can not delete this upstream, stream_route [1] is still using it now' }]);
  });

  it('TEST 20: delete route(id: 1)', async () => {
    assert.equal((await h.t(`${ADMIN}/stream_routes/1`, 'DELETE')).status, 200);
  });

  // TEST 21 (delete the service) needs services: see the README.

  it('TEST 22: delete upstream(id: 1)', async () => {
    assert.equal((await h.t(`${ADMIN}/upstreams/1`, 'DELETE')).status, 200);
  });
});
