// APISIX t/admin/upstream-array-nodes.t against weir (table: test/apisix/README.md).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';

const NONE_OF = '{"error_msg":"invalid configuration: property \\"nodes\\" validation failed: object matches none of the required"}';

describe('t/admin/upstream-array-nodes.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  const NODE = '[{"host": "127.0.0.1", "port": 8080, "weight": 1}]';
  const expectError = async (body: string, message: string | RegExp) => {
    const r = await h.t(`${ADMIN}/upstreams`, 'PUT', body);
    assert.equal(r.status, 400);
    if (typeof message === 'string') assert.deepEqual(r.body, JSON.parse(message));
    else assert.match(JSON.stringify(r.body), message);
  };

  it('TEST 1: set upstream(id: 1)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', `{"nodes": ${NODE}, "type": "roundrobin", "desc": "new upstream"}`,
      `{"value": {"nodes": ${NODE}, "type": "roundrobin", "desc": "new upstream"}, "key": "/apisix/upstreams/1"}`);
  });

  it('TEST 2: get upstream(id: 1)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'GET', undefined,
      `{"value": {"nodes": ${NODE}, "type": "roundrobin", "desc": "new upstream"}, "key": "/apisix/upstreams/1"}`);
  });

  it('TEST 3: delete upstream(id: 1)', async () => {
    assert.equal((await h.t(`${ADMIN}/upstreams/1`, 'DELETE')).status, 200);
  });

  it('TEST 4: delete upstream(id: not_found)', async () => {
    assert.equal((await h.t(`${ADMIN}/upstreams/not_found`, 'DELETE')).status, 404);
  });

  it('TEST 5: push upstream + delete', async () => {
    const r = await h.ok(`${ADMIN}/upstreams`, 'POST', `{"nodes": ${NODE}, "type": "roundrobin"}`,
      `{"value": {"nodes": ${NODE}, "type": "roundrobin"}}`);
    assert.equal((await h.t(r.body.key.replace('/apisix/', `${ADMIN}/`), 'DELETE')).status, 200);
  });

  it('TEST 6: empty nodes', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', '{"nodes": [], "type": "roundrobin"}');
  });

  // APISIX's HTTP route becomes a stream route (methods and uri dropped).
  it('TEST 7: refer to empty nodes upstream', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', '{"upstream_id": "1"}');
  });

  // APISIX answers 503 and logs "no valid upstream node"; at L4 the connection is closed without a byte.
  it('TEST 8: hit empty nodes upstream', async () => {
    const logged = h.w.access.length;
    const r = await h.stream();
    assert.deepEqual([r.data, r.closedBy === 'timeout'], ['', false]);
    assert.deepEqual((await h.accessSince(logged)).map((a) => [a.route, a.upstream]), [['1', null]]);
  });

  it('TEST 9: additional properties is invalid', async () => {
    await expectError(`{"id": 1, "nodes": ${NODE}, "type": "roundrobin", "_service_name": "xyz", "_discovery_type": "nacos"}`,
      /^\{"error_msg":"invalid configuration: additional properties forbidden, found .*"\}$/);
  });

  it('TEST 10: invalid weight of node', async () => {
    await expectError('{"id": 1, "nodes": [{"host": "127.0.0.1", "port": 8080, "weight": "1"}], "type": "chash"}', NONE_OF);
  });

  it('TEST 11: invalid weight of node', async () => {
    await expectError('{"id": 1, "nodes": [{"host": "127.0.0.1", "port": 8080, "weight": -100}], "type": "chash"}', NONE_OF);
  });

  it('TEST 12: invalid port of node', async () => {
    await expectError('{"id": 1, "nodes": [{"host": "127.0.0.1", "port": 0, "weight": 1}], "type": "chash"}', NONE_OF);
  });

  it('TEST 13: invalid host of node', async () => {
    await expectError('{"id": 1, "nodes": [{"host": "127.#.%.1", "port": 8080, "weight": 1}], "type": "chash"}', NONE_OF);
  });

  // APISIX's HTTP route with an inline upstream becomes a stream route (uri dropped).
  it('TEST 14: nodes host include ipv6 addr', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', `{
      "upstream": {"nodes": [{"host": "[::1]", "port": 8082, "weight": 1}], "type": "roundrobin"}
    }`);
  });
});
