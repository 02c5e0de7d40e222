// APISIX t/admin/upstream-force-delete.t against weir (table: test/apisix/README.md).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';

describe('t/admin/upstream-force-delete.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  it('TEST 1: set upstream(id: 1)', async () => {
    const r = await h.t(`${ADMIN}/upstreams/1`, 'PUT', '{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}');
    assert.equal(r.status, 201);
  });

  // APISIX's HTTP route becomes a stream route with the same upstream_id.
  it('TEST 2: add route', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', '{"upstream_id": 1}');
  });

  // [weir] deliberate difference: the in-use check covers stream routes (APISIX: HTTP routes, "route [1]").
  const IN_USE = { error_msg: 'can not delete this upstream, stream_route [1] is still using it now' };

  it('TEST 3: delete upstream(wrong header) (differs: names the stream route)', async () => {
    const r = await h.t(`${ADMIN}/upstreams/1?force=anyvalue`, 'DELETE');
    assert.deepEqual([r.status, r.body], [400, IN_USE]);
  });

  it('TEST 4: delete upstream(without force delete header) (differs: names the stream route)', async () => {
    const r = await h.t(`${ADMIN}/upstreams/1`, 'DELETE');
    assert.deepEqual([r.status, r.body], [400, IN_USE]);
  });

  it('TEST 5: delete upstream(force delete)', async () => {
    assert.equal((await h.t(`${ADMIN}/upstreams/1?force=true`, 'DELETE')).status, 200);
  });

  it('TEST 6: delete route', async () => {
    assert.equal((await h.t(`${ADMIN}/stream_routes/1`, 'DELETE')).status, 200);
  });
});
