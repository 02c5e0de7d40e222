// APISIX t/stream-node/least_conn.t against weir (table: test/apisix/README.md). APISIX's route comes from
// apisix.yaml (standalone); here through the Admin API.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, Harness } from '../harness';

describe('t/stream-node/least_conn.t', () => {
  let h: Harness;
  before(async () => (h = await Harness.start()));
  after(() => h.close());

  // repeat_each(4): four connections one after another; each is released when it ends, so the heavier
  // node (weight 3) is the least loaded every time. APISIX greps "proxy request to 127.0.0.1:1995".
  it('TEST 1: release the finished connection in the stream log phase', async () => {
    await h.ok(`${ADMIN}/stream_routes/1`, 'PUT', {
      upstream: {
        type: 'least_conn',
        nodes: [{ host: '127.0.0.1', port: 1995, weight: 3 }, { host: '127.0.0.2', port: 1995, weight: 1 }],
      },
    });
    const before = { ...h.hello.accepted };
    for (let i = 0; i < 4; i++) assert.equal((await h.stream()).data, 'hello world\n');
    assert.deepEqual(h.hits(before), { '127.0.0.1': 4 });
  });
});
