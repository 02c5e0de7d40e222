// APISIX t/admin/upstream2.t against weir (table: test/apisix/README.md).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';

describe('t/admin/upstream2.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  const NODES = '{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}';
  /** The reply without create_time/update_time (APISIX's blocks check they exist, then drop them). */
  const withoutTimes = (body: { key?: unknown; value: Record<string, unknown> }) => {
    const { create_time, update_time, ...value } = body.value;
    assert.deepEqual([typeof create_time, typeof update_time], ['number', 'number']);
    return { ...body, value };
  };

  it('TEST 1: not unwanted data, POST', async () => {
    const r = await h.ok(`${ADMIN}/upstreams`, 'POST', NODES);
    const { key, ...rest } = withoutTimes(r.body);
    const { id, ...value } = rest.value;
    assert.deepEqual([typeof key, typeof id], ['string', 'string']);
    assert.deepEqual({ value }, JSON.parse('{"value":{"nodes":{"127.0.0.1:8080":1},"type":"roundrobin"}}'));
  });

  it('TEST 2: not unwanted data, PUT', async () => {
    const r = await h.ok(`${ADMIN}/upstreams/unwanted`, 'PUT', NODES);
    assert.deepEqual(withoutTimes(r.body), JSON.parse(
      '{"key":"/apisix/upstreams/unwanted","value":{"id":"unwanted","nodes":{"127.0.0.1:8080":1},"type":"roundrobin"}}'));
  });

  it('TEST 3: not unwanted data, PATCH', async () => {
    const r = await h.ok(`${ADMIN}/upstreams/unwanted`, 'PATCH', NODES);
    assert.deepEqual(withoutTimes(r.body), JSON.parse(
      '{"key":"/apisix/upstreams/unwanted","value":{"id":"unwanted","nodes":{"127.0.0.1:8080":1},"type":"roundrobin"}}'));
  });

  it('TEST 4: not unwanted data, GET', async () => {
    const r = await h.ok(`${ADMIN}/upstreams/unwanted`, 'GET');
    const { createdIndex, modifiedIndex, ...rest } = r.body;
    assert.deepEqual([typeof createdIndex, typeof modifiedIndex], ['number', 'number']);
    assert.deepEqual(withoutTimes(rest), JSON.parse(
      '{"key":"/apisix/upstreams/unwanted","value":{"id":"unwanted","nodes":{"127.0.0.1:8080":1},"type":"roundrobin"}}'));
  });

  it('TEST 5: not unwanted data, DELETE', async () => {
    const r = await h.ok(`${ADMIN}/upstreams/unwanted`, 'DELETE');
    assert.deepEqual(r.body, JSON.parse('{"deleted":"1","key":"/apisix/upstreams/unwanted"}'));
  });

  it('TEST 6: empty nodes', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', '{"nodes": {}, "type": "roundrobin"}');
  });

  // APISIX refers to the upstream from an HTTP route; at L4 it is a stream route (methods and uri dropped).
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

  it('TEST 9: upstream timeouts equal to zero', async () => {
    const r = await h.t(`${ADMIN}/upstreams/1`, 'PUT', `{
      "nodes": {"127.0.0.1:8080": 1},
      "type": "roundrobin",
      "timeout": {"connect": 0, "send": 0, "read": 0}
    }`);
    assert.equal(r.status, 400);
    assert.match(JSON.stringify(r.body),
      /^\{"error_msg":"invalid configuration: property \\"timeout\\" validation failed: property \\"(connect|send|read)\\" validation failed: expected 0 to be greater than 0"\}$/);
  });
});
