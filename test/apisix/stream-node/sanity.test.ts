// APISIX t/stream-node/sanity.t against weir (table: test/apisix/README.md):
// `--- stream_request` blocks are real TCP connections to weir's listener, proxied to the hello server.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';

describe('t/stream-node/sanity.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  const hit = async () => assert.equal((await h.stream()).data, 'hello world\n');
  const route = (remoteAddr: string, extra = '') => `{
    "remote_addr": "${remoteAddr}",${extra}
    "upstream": {"nodes": {"127.0.0.1:1995": 1}, "type": "roundrobin"}
  }`;

  it('TEST 1: set stream route(id: 1)', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', route('127.0.0.1'));
  });

  it('TEST 2: hit route', hit);

  it('TEST 3: set stream route(id: 1)', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', route('127.0.0.2'));
  });

  it('TEST 4: not hit route', async () => {
    const before = { ...h.hello.accepted };
    const r = await h.stream();
    assert.deepEqual([r.data, r.closedBy === 'timeout', h.hits(before)], ['', false, {}]);
  });

  it('TEST 5: delete route(id: 1)', async () => {
    assert.equal((await h.t(`${ADMIN}/stream_routes/1`, 'DELETE')).status, 200);
  });

  it('TEST 6: set stream route(id: 1)', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', route('127.0.0.1', '\n    "server_port": 1995,'));
  });

  it('TEST 7: set upstream (id: 1)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', '{"nodes": {"127.0.0.1:1995": 1}, "type": "roundrobin"}');
  });

  it('TEST 8: set stream route (id: 1) which uses upstream_id', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', '{"remote_addr": "127.0.0.1", "upstream_id": "1"}');
  });

  it('TEST 9: hit route', hit);

  it('TEST 10: skip route config tombstone', async () => {
    const body = '{"upstream": {"nodes": {"127.0.0.1:1995": 1}, "type": "roundrobin"}}';
    await h.t(`${ADMIN}/stream_routes/1`, 'PUT', body);
    await h.t(`${ADMIN}/stream_routes/1`, 'DELETE');
    await h.t(`${ADMIN}/stream_routes/1`, 'PUT', body);
    await hit();
  });

  it('TEST 11: set stream route (id: 1) which uses upstream_id and remote address with IP CIDR', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', '{"remote_addr": "127.0.0.1/26", "upstream_id": "1"}');
  });

  it('TEST 12: hit route', hit);

  it('TEST 13: reject bad CIDR', async () => {
    const r = await h.t(`${ADMIN}/stream_routes/1`, 'PUT', '{"remote_addr": ":/8", "upstream_id": "1"}');
    assert.deepEqual([r.status, r.body], [400, JSON.parse('{"error_msg":"invalid remote_addr: :/8"}')]);
  });

  it('TEST 14: skip upstream http host check in stream subsystem', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', `{
      "nodes": {"127.0.0.1:1995": 1, "127.0.0.2:1995": 1},
      "pass_host": "node",
      "type": "roundrobin"
    }`);
  });

  it('TEST 15: hit route', hit);

  // APISIX also greps its log for the table-pool calls of one connection: an internal of its Lua context;
  // the visible part is the answer.
  it('TEST 16: reuse ctx and more', hit);
});
