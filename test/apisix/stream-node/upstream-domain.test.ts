// APISIX t/stream-node/upstream-domain.t against weir (table: test/apisix/README.md).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';

describe('t/stream-node/upstream-domain.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  const hit = async () => assert.equal((await h.stream()).data, 'hello world\n');

  it('TEST 1: set upstream & stream_routes (id: 1)', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', '{"nodes": {"localhost:1995": 1}, "type": "roundrobin"}');
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', '{"remote_addr": "127.0.0.1", "upstream_id": "1"}');
  });

  it('TEST 2: hit route', hit);

  it('TEST 3: set stream_routes with upstream(id: 1)', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', `{
      "remote_addr": "127.0.0.1",
      "upstream": {"nodes": {"localhost:1995": 1}, "type": "roundrobin"}
    }`);
  });

  it('TEST 4: hit route', hit);

  it('TEST 5: bad domain in the upstream', async () => {
    await h.ok(`${ADMIN}/upstreams/1`, 'PUT', '{"nodes": {"local:1995": 1}, "type": "roundrobin"}');
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', '{"remote_addr": "127.0.0.1", "upstream_id": "1"}');
  });

  // TEST 6 and 8 (connecting to `local`): not run here, see the README.

  it('TEST 7: bad domain in the stream route', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', `{
      "remote_addr": "127.0.0.1",
      "upstream": {"nodes": {"local:1995": 1}, "type": "roundrobin"}
    }`);
  });
});
